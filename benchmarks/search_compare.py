"""Variable-length GA against its rivals at an equal wall-clock budget (issue 3).

Every method gets the same data, search space, fitness (validation accuracy after
``epochs_per_eval`` epochs), time budget, seeds and final fit (early stopping on the
validation set, then the test set once). Reports the median and spread over seeds.

    python -m benchmarks.search_compare --budget small          # digits, minutes
    python -m benchmarks.search_compare --budget full --datasets mnist,fashion_mnist --resume
    python -m benchmarks.search_compare --budget full --datasets mnist --minutes 30   # the issue's 30 min a method

Every run is a fresh process (clean TensorFlow state). ``--lanes 2`` runs two at a time, each pinned
to its own share of the cores, so every method still gets the same (dedicated) hardware.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from automl_kit.utils import read_json, write_json
from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    paired_differences,
    parser,
    run_grid,
    table,
)

BUDGETS = {
    # per data set: (n_train, n_val, n_test); minutes per method and seed; epochs per evaluation; final-fit epochs
    "small": {
        "datasets": {"digits": (None, None, None)},
        "seeds": [0],
        "minutes": 1.0,
        "epochs": 2,
        "population": 10,
        "final_epochs": 15,
        "final_minutes": None,
    },
    # The protocol is 30 min a method; 10 methods x 3 seeds x 2 data sets would be 30 h on
    # 2 CPU cores, so the CPU default is 5 min on one core (two lanes: ~3 h, resumable across
    # sessions), 2 epochs a fitness and population 8 so that a GA sees several generations.
    "full": {
        "datasets": {
            "mnist": (10_000, 2_000, None),
            "fashion_mnist": (10_000, 2_000, None),
            "cifar10": (3_500, 500, None),
            "digits": (None, None, None),
        },
        "seeds": [0, 1, 2],
        "minutes": 5.0,
        "epochs": 2,
        "population": 8,
        "final_epochs": 30,
        "final_minutes": 5.0,
    },
}


# Per-algorithm settings of this benchmark (the rest are the searchers' defaults).
SETTINGS = {
    "vlga": lambda population: {"population": population, "generations": 3},
    "classical_ga": lambda population: {"population": population},
    "large_scale_evolution": lambda population: {"population": population},
}
# Benchmark-only variants: a registered search with config overrides.
VARIANTS = {
    "vlga_reject": ("vlga", {"early_rejection": 0.5}),
    "vlga_patience": ("vlga", {"phase_patience": 1}),
    # Tuned after the MNIST runs: a small population whose phases share the time budget.
    "vlga_paced": ("vlga", {"population": 4, "budget_phases": 4}),
}
SUBJECT = "vlga"  # the search under study: listed first, the baseline of the paired differences


def methods(population: int = 10) -> dict[str, tuple[str, dict]]:
    """Method name -> (registered search algorithm, its settings), without importing TensorFlow.

    Every search of ``automl_kit.registries.SEARCHERS`` plus the ``VARIANTS``; the subject and its
    variants first.
    """
    from automl_kit.registries import SEARCHERS

    names = sorted(SEARCHERS.names(), key=lambda n: n != SUBJECT)
    out = {}
    for name in names:
        out[name] = (name, SETTINGS.get(name, lambda _: {})(population))
        for variant, (base, overrides) in VARIANTS.items():
            if base == name:
                out[variant] = (base, {**out[name][1], **overrides})
    return out


def run_one(dataset: str, sizes, method: str, seed: int, cfg: dict, minutes: float) -> dict:
    from automl_kit.datasets import load
    from automl_kit.search import CNNSpace
    from automl_kit.utils import seed_everything
    from automl_kit.utils.executor import limit_threads

    limit_threads(len(os.sched_getaffinity(0)))  # this lane's cores, not the machine's
    seed_everything(seed)
    n_train, n_val, n_test = sizes
    data = load(dataset, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)
    from automl_kit.registries import SEARCHERS

    algorithm, options = methods(cfg["population"])[method]
    searcher = SEARCHERS.get(algorithm)(
        CNNSpace.compact(), seed=seed, epochs_per_eval=cfg["epochs"], verbose=0, **options
    )
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        result = searcher.search(
            data.x_train,
            data.y_train,
            validation_data=data.validation_data,
            time_budget=minutes * 60,
            run_dir=f"{tmp}/run",
        )
        searched = time.time() - start
        final = result.final_fit(
            data.x_train,
            data.y_train,
            validation_data=data.validation_data,
            max_epochs=cfg["final_epochs"],
            patience=5,
            time_budget=cfg["final_minutes"] and cfg["final_minutes"] * 60,
        )
        _, test_accuracy = final.model.evaluate(data.x_test, data.y_test, verbose=0)
    return {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "val_fitness": round(result.best_fitness, 4),
        "test_accuracy": round(float(test_accuracy), 4),
        "evaluations": result.evaluations,
        "search_seconds": round(searched, 1),
        "final_fit_seconds": round(time.time() - start - searched, 1),
        "depth": result.space.depth(result.best_genes),
        "params": result.best.params,
        "stop_reason": result.stop_reason,
        "cores": len(os.sched_getaffinity(0)),
    }


def run_in_child(budget: str, key: tuple, minutes: float, cores: set[int]) -> dict:
    """``run_one`` in a fresh Python pinned to ``cores``; raises with the child's stderr if it fails."""
    dataset, method, seed = key
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        cmd = [sys.executable, "-m", "benchmarks.search_compare", "--budget", budget]
        cmd += [
            "--single",
            f"{dataset}:{method}:{seed}",
            "--minutes",
            str(minutes),
            "--out",
            str(out),
        ]
        proc = subprocess.run(
            cmd,
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            preexec_fn=lambda: os.sched_setaffinity(0, cores),
        )
        if proc.returncode:
            raise RuntimeError(f"{dataset} {method} seed {seed} failed:\n{proc.stderr[-3000:]}")
        return read_json(out)


SUMMARY_COLUMNS = [
    "dataset",
    "method",
    "seeds",
    "test_median",
    "test_min_max",
    "val_median",
    "evals_median",
    "depth_median",
    "seconds_median",
]


def differences(rows: list[dict], baseline: str) -> list[dict]:
    """Each method's test accuracy minus ``baseline``'s on the same data set and seed, in points."""
    return [
        {**d, **{k: round(d[k], 2) for k in ("mean_diff", "ci_low", "ci_high")}}
        for d in paired_differences(rows, metric="test_accuracy", baseline=baseline, scale=100)
    ]


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        for method in dict.fromkeys(r["method"] for r in rows):
            group = [r for r in rows if r["dataset"] == dataset and r["method"] == method]
            if not group:
                continue
            test = [r["test_accuracy"] for r in group]
            out.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "seeds": len(group),
                    "test_median": round(statistics.median(test), 4),
                    "test_min_max": f"{min(test):.4f}-{max(test):.4f}",
                    "val_median": round(statistics.median(r["val_fitness"] for r in group), 4),
                    "evals_median": statistics.median(r["evaluations"] for r in group),
                    "depth_median": statistics.median(r["depth"] for r in group),
                    "seconds_median": round(
                        statistics.median(
                            r["search_seconds"] + r["final_fit_seconds"] for r in group
                        ),
                        1,
                    ),
                }
            )
    return out


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--datasets", default=None, help="comma-separated subset of the budget's data sets"
    )
    p.add_argument(
        "--methods", default=None, help="comma-separated subset of: " + ", ".join(methods())
    )
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="search minutes per method and seed (default: the budget's)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep finished runs of the output file and do the rest",
    )
    p.add_argument(
        "--lanes",
        type=int,
        default=1,
        help="runs at a time, each pinned to cpu_count/lanes cores of its own",
    )
    p.add_argument(
        "--baseline",
        default=SUBJECT,
        help="method the others are compared with, seed by seed ('none' to skip)",
    )
    p.add_argument("--single", default=None, help=argparse.SUPPRESS)  # DATASET:METHOD:SEED, a child
    args = p.parse_args(argv)
    cfg = BUDGETS[args.budget]
    minutes = args.minutes or cfg["minutes"]
    if args.single:
        dataset, method, seed = args.single.split(":")
        write_json(
            args.out, run_one(dataset, cfg["datasets"][dataset], method, int(seed), cfg, minutes)
        )
        return None
    datasets = {
        k: v
        for k, v in cfg["datasets"].items()
        if not args.datasets or k in args.datasets.split(",")
    }
    names = args.methods.split(",") if args.methods else list(methods())
    unknown = sorted(set(names) - set(methods()))
    if unknown:
        p.error(f"unknown methods {unknown}; choose from {', '.join(methods())}")
    if args.baseline not in (*methods(), "none"):
        p.error(f"unknown baseline {args.baseline!r}; choose a method or 'none'")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else cfg["seeds"]
    out = args.out or str(RESULTS / f"search_compare-{args.budget}.json")
    cells = [
        {"dataset": dataset, "method": method, "seed": seed}
        for dataset in datasets
        for seed in seeds
        for method in names
    ]
    cpus = sorted(os.sched_getaffinity(0))
    per_lane = max(1, len(cpus) // args.lanes)
    free = queue.Queue()
    for lane in range(args.lanes):
        free.put(set(cpus[lane * per_lane : (lane + 1) * per_lane]) or set(cpus))

    def run_cell(cell: dict) -> dict:
        cores = free.get()
        try:
            return run_in_child(
                args.budget, (cell["dataset"], cell["method"], cell["seed"]), minutes, cores
            )
        finally:
            free.put(cores)

    finished = 0

    def on_row(row: dict, grid) -> None:
        nonlocal finished
        finished += 1
        print(
            f"{row['dataset']} seed {row['seed']} {row['method']}: test {row['test_accuracy']:.4f} "
            f"val {row['val_fitness']:.4f} evals {row['evaluations']} depth {row['depth']} "
            f"({grid.skipped + finished} of {len(cells)} runs)",
            flush=True,
        )

    def figures(rows: list[dict]) -> dict:
        body = {
            "minutes_per_method": minutes,
            "lanes": args.lanes,
            "runs": rows,
            "summary": summarise(rows),
        }
        if args.baseline != "none":
            body["differences"] = differences(rows, args.baseline)
        return body

    grid = run_grid(
        "search_compare",
        cells,
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        lanes=args.lanes,
        figures=figures,
        on_row=on_row,
    )
    summary = summarise(grid.rows)
    print(table(summary, SUMMARY_COLUMNS))
    if args.baseline != "none":
        print(
            f"\ntest accuracy minus {args.baseline}'s, points, paired by seed (bootstrap 95% interval):"
        )
        print(
            table(differences(grid.rows, args.baseline), ["dataset", "method", *DIFFERENCE_COLUMNS])
        )
    print(f"written: {out}")
    if grid.failed:
        raise SystemExit(
            f"{len(grid.failed)} runs failed: {[(f['dataset'], f['method'], f['seed']) for f in grid.failed]}"
        )
    return summary


if __name__ == "__main__":
    main()
