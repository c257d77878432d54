"""Layer-freezing policies against plain training at equal model, data, seed and schedule (issues 4, 17).

Every policy trains the same zoo model from the same initialisation (same seed) on the same data
with the same SGD + step-decay schedule, epochs and batch size; we time ``fit`` (wall clock,
including compilation and validation) and score the test set once. Per seed we take the time
ratio to no freezing and the accuracy difference, then report the median and the range over seeds,
and the mean of each with a bootstrap 95% interval (paired by seed). The "ceiling" is the share of
training-step time IntelligentFreezing would save if, in every stage, the prefix it chose were
frozen in every epoch after its measurement, computed from per-prefix step times measured on the
same model right after its run. A time-vs-accuracy plot (one point per policy and seed) is written
next to the JSON.

    python -m benchmarks.freezing --budget small                  # CPU: ~1 h on 2 cores
    python -m benchmarks.freezing --budget protocol --models resnet20 --datasets fashion_mnist --lanes 2 --resume
    python -m benchmarks.freezing --budget full                   # thesis models, needs a GPU
    python -m benchmarks.freezing --budget recipe --lanes 2       # issue 25: the shared recipe

The ``recipe`` budget trains with the trainer's default, the shared recipe (AdamW, warm-up and
cosine, flips and translations on colour images, batch 64) instead of SGD with step decay, and
accounts for each run's time from its log: distinct prefixes (one traced step each), the
first steps' extra seconds (tracing), and the epochs that collected gradient statistics.

Every run is a fresh process pinned to its own cores (``--lanes``: runs at a time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from automl_kit.utils import write_json
from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    Lanes,
    bootstrap_interval,
    load_average,
    paired_differences,
    parser,
    run_grid,
    table,
)

BUDGETS = {
    # model -> width multiplier; data set -> (n_train, n_val, n_test)
    "small": {
        "models": {"resnet20": 1.0, "vgg11": 0.25},
        "datasets": {"cifar10": (None, None, None), "fashion_mnist": (3_600, 400, 2_000)},
        "epochs": 16,
        "batch_size": 128,
        "seeds": [0, 1, 2],
        "policies": ["none", "intelligent", "freezeout", "autofreeze"],
        "ceiling": True,
    },
    # Issue 17: a test set large enough to resolve ~0.3 points (Fashion-MNIST's 10,000 images), a
    # training subset this CPU can run 5 seeds of, and the CIFAR-10 subset with all its 4,000 images
    # (3,600 / 400 / 1,000) as the second, noisier data set where over-freezing showed.
    "protocol": {
        "models": {"resnet20": 1.0, "vgg11": 0.25},
        "datasets": {"fashion_mnist": (6_000, 1_000, None), "cifar10": (None, None, None)},
        "epochs": 12,
        "batch_size": 128,
        "seeds": [0, 1, 2, 3, 4],
        "policies": ["none", "intelligent", "intelligent_thesis", "freezeout", "autofreeze"],
        "ceiling": True,
    },
    # issue 25: the shared recipe, the CIFAR-10 subset (3,600 / 400 / 1,000), one stage per
    # half/three quarters of the cosine schedule (FreezingCallback's stages without drops)
    "recipe": {
        "models": {"resnet20": 1.0},
        "datasets": {"cifar10": (None, None, None)},
        "epochs": 12,
        "batch_size": None,  # the recipe's
        "seeds": [0, 1],
        "policies": ["none", "intelligent", "freezeout", "autofreeze"],
        "ceiling": False,
        "recipe": True,
    },
    "full": {
        "models": {"vgg19": 1.0, "resnet18": 1.0, "resnet50": 1.0, "densenet121": 1.0},
        "datasets": {"cifar10": (None, None, None)},
        "epochs": 60,
        "batch_size": 128,
        "seeds": [0, 1, 2],
        "policies": ["none", "intelligent", "intelligent_thesis", "freezeout", "autofreeze"],
        "ceiling": True,
    },
}
# Benchmark-only variants: a registered policy with options.
VARIANTS = {"intelligent_thesis": ("intelligent", {"mode": "thesis"})}  # Xiao's Algorithm 1
CEILING_POLICY = "intelligent"  # the policy whose runs get the ceiling measured


def make_policy(name: str):
    from automl_kit.registries import POLICIES

    base, options = VARIANTS.get(name, (name, {}))
    return POLICIES.create(base, **options)


def train_once(
    data, model_name: str, width: float, policy_name: str, seed: int, budget: dict
) -> dict:
    import keras

    from automl_kit.freezing import FreezingTrainer
    from automl_kit.utils import seed_everything
    from automl_kit.zoo import build_model

    load_start = load_average()
    keras.backend.clear_session()
    seed_everything(seed)
    model = build_model(model_name, data.input_shape, data.num_classes, width=width)
    if budget.get("recipe"):  # the trainer's default: the shared recipe
        trainer = FreezingTrainer(model, policy=make_policy(policy_name))
    else:  # the recorded protocol: SGD 0.1 with momentum, x0.1 at 50 % and 75 % of the epochs
        trainer = FreezingTrainer(
            model, keras.optimizers.SGD(0.1, momentum=0.9), policy=make_policy(policy_name)
        )
    started = time.perf_counter()
    trainer.fit(
        data.x_train,
        data.y_train,
        epochs=budget["epochs"],
        batch_size=budget["batch_size"],
        validation_data=data.validation_data,
        verbose=0,
        seed=seed,
    )
    seconds = time.perf_counter() - started
    _, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    summary = trainer.callback.summary()
    return {
        "seconds": seconds,
        "time_accounting": time_accounting(summary["epochs"]),
        "test_accuracy": float(test_accuracy),
        "frozen_per_epoch": [row["frozen_layers"] for row in summary["epochs"]],
        "epoch_seconds": [row["epoch_seconds"] for row in summary["epochs"]],
        "val_accuracy": [row.get("val_accuracy") for row in summary["epochs"]],
        "layers": len(summary["layers"]),
        "policy_summary": summary["policy"],
        "load_start": load_start,
        "load_end": load_average(),
    }


def time_accounting(log: list[dict]) -> dict:
    """Where a run's time went, from its freezing log: the steps traced for prefixes after the
    first (every run traces one; each new prefix's first step costs its seconds beyond the
    fastest first step of the run), the epochs that collected gradient statistics, and the mean
    frozen prefix."""
    if not log or "first_step_seconds" not in log[0]:
        return {}
    fastest = min(r["first_step_seconds"] for r in log)
    seen, extra = {log[0]["frozen_layers"]}, 0.0
    for row in log[1:]:
        if row["frozen_layers"] not in seen:
            seen.add(row["frozen_layers"])
            extra += max(0.0, row["first_step_seconds"] - fastest)
    return {
        "epoch_seconds": round(sum(r["epoch_seconds"] for r in log), 1),
        "first_trace_seconds": round(log[0]["first_step_seconds"] - fastest, 1),
        "distinct_prefixes": len(seen),
        "extra_tracing_seconds": round(extra, 1),
        "statistics_epochs": sum(bool(r.get("statistics")) for r in log),
        "mean_frozen_prefix": round(statistics.fmean(r["frozen_layers"] for r in log), 2),
    }


def step_seconds_by_prefix(
    data, model_name: str, width: float, prefixes, budget: dict, repeats: int = 15
) -> dict:
    """Median seconds of one compiled training step with each frozen prefix."""
    import keras

    from automl_kit.training import TrainSteps, freezable_units, variables_after
    from automl_kit.utils import seed_everything
    from automl_kit.zoo import build_model

    keras.backend.clear_session()
    seed_everything(0)
    model = build_model(model_name, data.input_shape, data.num_classes, width=width)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    steps, units = TrainSteps(model), freezable_units(model)
    batch = budget["batch_size"]
    x, y = data.x_train[:batch], data.y_train[:batch]
    out = {}
    for prefix in sorted(set(prefixes)):
        steps.activate(variables_after(units, prefix, steps.variables))
        for _ in range(3):  # compile and warm up
            model.train_on_batch(x, y)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model.train_on_batch(x, y)
            times.append(time.perf_counter() - started)
        out[str(prefix)] = statistics.median(times)
    steps.restore()
    return out


def ceiling(run: dict, data, model: str, width: float, budget: dict) -> dict:
    """Step-time saving if each stage's chosen prefix were frozen in every epoch after measuring."""
    stages = run["policy_summary"]["stages"]
    n = run["layers"]
    quartiles = [round(q * (n - 1)) for q in (0.25, 0.5, 0.75)]
    chosen = [v["group1_layers"] for v in stages.values()] + [
        v["group2_layers"] for v in stages.values()
    ]
    times = step_seconds_by_prefix(data, model, width, [0, *chosen, *quartiles], budget)
    starts = sorted(int(k) for k in stages) + [budget["epochs"]]
    full = budget["epochs"] * times["0"]
    spent = (starts[0]) * times["0"]  # epochs before the first measurement (none when starts[0]=0)
    for start, end in zip(starts[:-1], starts[1:]):
        decision = stages[str(start)]
        measured = decision["measured_in_epoch"] + 1 - start
        spent += (
            measured * times["0"] + (end - start - measured) * times[str(decision["group1_layers"])]
        )
    return {
        "step_seconds": times,
        "chosen_prefixes": {k: v["group1_layers"] for k, v in stages.items()},
        "ceiling_saving": 1 - spent / full,
    }


def run_one(
    dataset: str, model: str, policy: str, seed: int, budget: dict, ceiling_too: bool
) -> dict:
    """One training run (in this process), with the ceiling measured after it when asked."""
    from automl_kit.datasets import load
    from automl_kit.utils.executor import limit_threads

    limit_threads(len(os.sched_getaffinity(0)))  # this lane's cores, not the machine's
    n_train, n_val, n_test = budget["datasets"].get(dataset, (None, None, None))
    data = load(dataset, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)
    width = budget["models"].get(model, 1.0)
    run = train_once(data, model, width, policy, seed, budget)
    if ceiling_too and policy == CEILING_POLICY:
        run["ceiling"] = ceiling(run, data, model, width, budget)
    return run


def with_ratios(rows: list[dict]) -> list[dict]:
    """Training rows, each with ``time_ratio``: its seconds over no freezing's (same data set,
    model and seed); rows without that baseline are left out."""
    runs = [r for r in rows if r.get("task") != "ceiling"]
    base = {
        (r["dataset"], r["model"], r["seed"]): r["seconds"] for r in runs if r["policy"] == "none"
    }
    return [
        {**r, "time_ratio": r["seconds"] / base[key]}
        for r in runs
        if (key := (r["dataset"], r["model"], r["seed"])) in base
    ]


def aggregate(rows: list[dict]) -> list[dict]:
    """Per data set, model and policy: medians and ranges over seeds, paired with no freezing."""
    paired = with_ratios(rows)
    none = {
        (r["dataset"], r["model"], r["seed"]): r["test_accuracy"]
        for r in paired
        if r["policy"] == "none"
    }
    out = []
    for group in dict.fromkeys((r["dataset"], r["model"], r["policy"]) for r in paired):
        done = [r for r in paired if (r["dataset"], r["model"], r["policy"]) == group]
        ratios = [r["time_ratio"] for r in done]
        diffs = [
            100 * (r["test_accuracy"] - none[(r["dataset"], r["model"], r["seed"])]) for r in done
        ]
        frozen = [float(np.mean([f > 0 for f in r["frozen_per_epoch"]])) for r in done]
        ceilings = [r["ceiling"]["ceiling_saving"] for r in done if "ceiling" in r]
        low, high = bootstrap_interval(ratios)
        out.append(
            {
                "dataset": group[0],
                "model": group[1],
                "policy": group[2],
                "seeds": len(done),
                "time_ratio": statistics.median(ratios),
                "time_ratio_range": f"{min(ratios):.3f}-{max(ratios):.3f}",
                "time_ratio_mean": statistics.fmean(ratios),
                "time_ratio_ci": f"{low:.3f}-{high:.3f}",
                "seconds": statistics.median(r["seconds"] for r in done),
                "test_acc": statistics.median(r["test_accuracy"] for r in done),
                "acc_diff_pts": statistics.median(diffs),
                "acc_diff_range": f"{min(diffs):+.2f}..{max(diffs):+.2f}",
                "frozen_epochs": statistics.median(frozen),
                "ceiling_saving": statistics.median(ceilings) if ceilings else None,
            }
        )
    return out


TABLE_COLUMNS = [
    "dataset",
    "model",
    "policy",
    "seeds",
    "time_ratio",
    "time_ratio_range",
    "time_ratio_ci",
    "test_acc",
    "acc_diff_pts",
    "acc_diff_range",
    "frozen_epochs",
    "ceiling_saving",
]
CELL_FIELDS = ("task", "dataset", "model", "policy", "seed")


def cells_of(datasets, models, policies, seeds) -> list[dict]:
    """Training cells, data set by data set and seed by seed."""
    cells = []
    for dataset in datasets:
        for seed in seeds:
            for model in models:
                # rotate the order per seed so slow drift of the machine does not favour one policy
                order = policies[seed % len(policies) :] + policies[: seed % len(policies)]
                cells += [
                    {"dataset": dataset, "model": model, "policy": p, "seed": seed} for p in order
                ]
    return cells


def rows_from(saved: dict) -> list[dict]:
    """The recorded file's ``runs`` ("dataset/model/policy/seed") and ``ceilings`` as grid rows.

    ``ceilings`` are the separate ceiling cells of issue-4 files; newer runs carry their ceiling.
    """
    rows = []
    for key, run in saved.get("runs", {}).items():
        dataset, model, policy, seed = key.split("/")
        rows.append(
            {"dataset": dataset, "model": model, "policy": policy, "seed": int(seed), **run}
        )
    for key, ceiling in saved.get("ceilings", {}).items():
        dataset, model, seed = key.split("/")
        rows.append(
            {"task": "ceiling", "dataset": dataset, "model": model, "seed": int(seed), **ceiling}
        )
    return rows


def _split(rows: list[dict]) -> tuple[dict, dict]:
    runs, ceilings = {}, {}
    for row in rows:
        body = {k: v for k, v in row.items() if k not in CELL_FIELDS}
        if row.get("task") == "ceiling":
            ceilings[f"{row['dataset']}/{row['model']}/{row['seed']}"] = body
        else:
            runs[f"{row['dataset']}/{row['model']}/{row['policy']}/{row['seed']}"] = body
    return runs, ceilings


def differences(rows: list[dict]) -> list[dict]:
    """Each policy's test accuracy minus no freezing's, same model/data/seed, in points."""
    runs = [r for r in rows if r.get("task") != "ceiling"]
    return [
        {**d, **{k: round(d[k], 2) for k in ("mean_diff", "ci_low", "ci_high")}}
        for d in paired_differences(
            runs,
            metric="test_accuracy",
            baseline="none",
            arm="policy",
            by=("dataset", "model"),
            scale=100,
        )
    ]


def plot(rows: list[dict], path: str | Path) -> Path | None:
    """Time ratio to no freezing (same seed) against test accuracy: one point per policy and seed,
    a larger marker at each policy's medians, one panel per data set and model. None if no pairs."""
    from automl_kit.utils.plotting import pyplot

    paired = with_ratios(rows)
    groups = list(dict.fromkeys((r["dataset"], r["model"]) for r in paired))
    if not groups:
        return None
    plt = pyplot()
    policies = list(dict.fromkeys(r["policy"] for r in paired))
    colours = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(policies)}
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (dataset, model) in zip(axes[0], groups):
        for policy in policies:
            done = [
                r
                for r in paired
                if (r["dataset"], r["model"], r["policy"]) == (dataset, model, policy)
            ]
            if not done:
                continue
            x, y = [r["time_ratio"] for r in done], [r["test_accuracy"] for r in done]
            ax.scatter(x, y, s=18, alpha=0.6, color=colours[policy])
            ax.scatter(
                statistics.median(x),
                statistics.median(y),
                s=120,
                marker="D",
                color=colours[policy],
                edgecolors="black",
                label=f"{policy} (median)",
            )
        ax.set_title(f"{model} on {dataset}")
        ax.set_xlabel("wall clock / no freezing's (same seed)")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=tuple(BUDGETS))
    p.add_argument(
        "--models", default=None, help="comma-separated zoo models (default: the budget's)"
    )
    p.add_argument(
        "--datasets", default=None, help="comma-separated data sets (default: the budget's)"
    )
    p.add_argument(
        "--policies", default=None, help="comma-separated policies (default: the budget's)"
    )
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    p.add_argument(
        "--epochs", type=int, default=None, help="epochs per run (default: the budget's)"
    )
    p.add_argument(
        "--ceiling",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"measure the per-prefix ceiling after each {CEILING_POLICY} run (default: the budget's)",
    )
    p.add_argument(
        "--lanes", type=int, default=1, help="runs at a time, each pinned to cpu_count/lanes cores"
    )
    p.add_argument("--resume", action="store_true", help="keep finished runs of the output JSON")
    p.add_argument(
        "--single", default=None, help=argparse.SUPPRESS
    )  # DATASET:MODEL:POLICY:SEED, a child
    args = p.parse_args(argv)
    budget = dict(BUDGETS[args.budget])
    if args.epochs:
        budget["epochs"] = args.epochs
    ceiling_too = budget["ceiling"] if args.ceiling is None else args.ceiling
    if args.single:
        dataset, model, policy, seed = args.single.split(":")
        write_json(args.out, run_one(dataset, model, policy, int(seed), budget, ceiling_too))
        return
    models = args.models.split(",") if args.models else list(budget["models"])
    datasets = args.datasets.split(",") if args.datasets else list(budget["datasets"])
    policies = args.policies.split(",") if args.policies else list(budget["policies"])
    from automl_kit.registries import POLICIES

    unknown = sorted(set(policies) - set(POLICIES.names()) - set(VARIANTS))
    if unknown:
        p.error(
            f"unknown policies {unknown}; choose from {', '.join([*POLICIES.names(), *VARIANTS])}"
        )
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else budget["seeds"]
    out = args.out or str(RESULTS / f"freezing-{args.budget}.json")
    widths = {m: budget["models"].get(m, 1.0) for m in models}
    lanes = Lanes(args.lanes)
    passed = ["--budget", args.budget, "--ceiling" if ceiling_too else "--no-ceiling"]
    if args.epochs:
        passed += ["--epochs", str(args.epochs)]

    def run_cell(cell: dict) -> dict:
        key = f"{cell['dataset']}:{cell['model']}:{cell['policy']}:{cell['seed']}"
        return lanes.run("benchmarks.freezing", [*passed, "--single", key], label=key)

    def on_row(row: dict, grid) -> None:
        print(
            f"{row['dataset']}/{row['model']}/{row['policy']}/{row['seed']}: "
            f"{row['seconds']:.1f} s, test {row['test_accuracy']:.4f}, "
            f"frozen {row['frozen_per_epoch']}",
            flush=True,
        )

    def figures(rows: list[dict]) -> dict:
        runs, ceilings = _split(rows)
        return {
            "protocol": {**budget, "models": widths, "ceiling": ceiling_too, "lanes": args.lanes},
            "runs": runs,
            "ceilings": ceilings,
            "table": aggregate(rows),
            "differences": differences(rows),
        }

    grid = run_grid(
        "freezing",
        cells_of(datasets, models, policies, seeds),
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        lanes=args.lanes,
        rows_from=rows_from,
        figures=figures,
        on_row=on_row,
    )
    print(table(aggregate(grid.rows), TABLE_COLUMNS))
    if "none" in policies:
        print(
            "\ntest accuracy minus no freezing's, points, paired by seed (bootstrap 95% interval; "
            "positive = seeds ahead):"
        )
        print(
            table(
                differences(grid.rows),
                ["dataset", "model", "policy", *DIFFERENCE_COLUMNS, "positive"],
            )
        )
    for row in grid.rows:
        c = row.get("ceiling") or (row if row.get("task") == "ceiling" else None)
        if c:
            steps = {k: round(v, 4) for k, v in c["step_seconds"].items()}
            print(
                f"ceiling {row['dataset']}/{row['model']}/{row['seed']}: prefixes by stage "
                f"{c['chosen_prefixes']} -> {c['ceiling_saving']:.1%} of step time; "
                f"seconds per step by frozen prefix {steps}"
            )
    picture = plot(grid.rows, Path(out).with_suffix(".png"))
    print(f"written: {out}" + (f" and {picture}" if picture else ""))
    if grid.failed:
        raise SystemExit(f"{len(grid.failed)} runs failed: {[f['error'] for f in grid.failed]}")


if __name__ == "__main__":
    main()
