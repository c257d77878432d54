"""Layer-freezing policies against plain training at equal model, data, seed and schedule (issue 4).

Every policy trains the same zoo model from the same initialisation (same seed) on the same data
with the same SGD + step-decay schedule, epochs and batch size; we time ``fit`` (wall clock,
including compilation and validation) and score the test set once. Per seed we take the time
ratio to no freezing and the accuracy difference, then report the median and the range over seeds.
The "ceiling" is the share of training-step time IntelligentFreezing would save if, in every
stage, the prefix it chose were frozen in every epoch after its measurement (instead of every other
one), computed from per-prefix step times measured on the same model.

    python -m benchmarks.freezing --budget small                  # CPU: ~1 h on 2 cores
    python -m benchmarks.freezing --budget small --models resnet20 --datasets cifar10 --resume
    python -m benchmarks.freezing --budget full                   # thesis models, needs a GPU
"""

from __future__ import annotations

import statistics
import time
from functools import lru_cache

import numpy as np

from automl_kit.utils import read_json
from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
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
    },
    "full": {
        "models": {"vgg19": 1.0, "resnet18": 1.0, "resnet50": 1.0, "densenet121": 1.0},
        "datasets": {"cifar10": (None, None, None)},
        "epochs": 60,
        "batch_size": 128,
        "seeds": [0, 1, 2],
    },
}
POLICY_NAMES = ("none", "intelligent", "freezeout", "autofreeze")


def make_policy(name: str):
    from automl_kit.registries import POLICIES

    return POLICIES.create(name)


def train_once(
    data, model_name: str, width: float, policy_name: str, seed: int, budget: dict
) -> dict:
    import keras

    from automl_kit.freezing import FreezingTrainer
    from automl_kit.utils import seed_everything
    from automl_kit.zoo import build_model

    keras.backend.clear_session()
    seed_everything(seed)
    model = build_model(model_name, data.input_shape, data.num_classes, width=width)
    trainer = FreezingTrainer(model, policy=make_policy(policy_name))
    started = time.perf_counter()
    trainer.fit(
        data.x_train,
        data.y_train,
        epochs=budget["epochs"],
        batch_size=budget["batch_size"],
        validation_data=data.validation_data,
        verbose=0,
    )
    seconds = time.perf_counter() - started
    _, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    summary = trainer.callback.summary()
    return {
        "seconds": seconds,
        "test_accuracy": float(test_accuracy),
        "frozen_per_epoch": [row["frozen_layers"] for row in summary["epochs"]],
        "epoch_seconds": [row["epoch_seconds"] for row in summary["epochs"]],
        "val_accuracy": [row.get("val_accuracy") for row in summary["epochs"]],
        "layers": len(summary["layers"]),
        "policy_summary": summary["policy"],
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


def aggregate(runs: dict, datasets, models, policies, seeds) -> list[dict]:
    rows = []
    for dataset in datasets:
        for model in models:
            base = {s: runs.get(f"{dataset}/{model}/none/{s}") for s in seeds}
            for policy in policies:
                per_seed = [(s, runs.get(f"{dataset}/{model}/{policy}/{s}")) for s in seeds]
                done = [(s, r) for s, r in per_seed if r is not None and base[s] is not None]
                if not done:
                    continue
                ratios = [r["seconds"] / base[s]["seconds"] for s, r in done]
                diffs = [100 * (r["test_accuracy"] - base[s]["test_accuracy"]) for s, r in done]
                accs = [r["test_accuracy"] for _, r in done]
                frozen = [np.mean([f > 0 for f in r["frozen_per_epoch"]]) for _, r in done]
                rows.append(
                    {
                        "dataset": dataset,
                        "model": model,
                        "policy": policy,
                        "seeds": len(done),
                        "time_ratio": statistics.median(ratios),
                        "time_ratio_range": f"{min(ratios):.3f}-{max(ratios):.3f}",
                        "seconds": statistics.median(r["seconds"] for _, r in done),
                        "test_acc": statistics.median(accs),
                        "acc_diff_pts": statistics.median(diffs),
                        "acc_diff_range": f"{min(diffs):+.2f}..{max(diffs):+.2f}",
                        "frozen_epochs": statistics.median(frozen),
                    }
                )
    return rows


TABLE_COLUMNS = [
    "dataset",
    "model",
    "policy",
    "seeds",
    "time_ratio",
    "time_ratio_range",
    "test_acc",
    "acc_diff_pts",
    "acc_diff_range",
    "frozen_epochs",
]
CELL_FIELDS = ("task", "dataset", "model", "policy", "seed")


def cells_of(datasets, models, policies, seeds) -> list[dict]:
    """Training cells, then each seed's ceiling cell right after its intelligent run's model."""
    cells = []
    for dataset in datasets:
        for seed in seeds:
            for model in models:
                # rotate the order per seed so slow drift of the machine does not favour one policy
                order = policies[seed % len(policies) :] + policies[: seed % len(policies)]
                cells += [
                    {"dataset": dataset, "model": model, "policy": p, "seed": seed} for p in order
                ]
                if "intelligent" in policies:
                    cells.append(
                        {"task": "ceiling", "dataset": dataset, "model": model, "seed": seed}
                    )
    return cells


def rows_from(saved: dict) -> list[dict]:
    """The recorded file's ``runs`` ("dataset/model/policy/seed") and ``ceilings`` as grid rows."""
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


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--models", default=None, help="comma-separated zoo models (default: the budget's)"
    )
    p.add_argument(
        "--datasets", default=None, help="comma-separated data sets (default: the budget's)"
    )
    p.add_argument("--policies", default=",".join(POLICY_NAMES), help="comma-separated policies")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: 0,1,2)")
    p.add_argument(
        "--epochs", type=int, default=None, help="epochs per run (default: the budget's)"
    )
    p.add_argument("--resume", action="store_true", help="keep finished runs of the output JSON")
    args = p.parse_args(argv)
    budget = dict(BUDGETS[args.budget])
    if args.epochs:
        budget["epochs"] = args.epochs
    models = args.models.split(",") if args.models else list(budget["models"])
    datasets = args.datasets.split(",") if args.datasets else list(budget["datasets"])
    policies = args.policies.split(",")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else budget["seeds"]
    out = args.out or str(RESULTS / f"freezing-{args.budget}.json")
    widths = {m: budget["models"].get(m, 1.0) for m in models}

    @lru_cache(maxsize=1)  # cells come data set by data set, seed by seed
    def data_of(dataset: str, seed: int):
        from automl_kit.datasets import load

        n_train, n_val, n_test = budget["datasets"].get(dataset, (None, None, None))
        return load(dataset, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)

    def run_cell(cell: dict) -> dict:
        data = data_of(cell["dataset"], cell["seed"])
        model = cell["model"]
        if cell.get("task") == "ceiling":
            key = f"{cell['dataset']}/{model}/intelligent/{cell['seed']}"
            runs, _ = _split(rows_from(read_json(out)))  # every finished run is saved there
            if key not in runs:
                raise ValueError(f"the ceiling needs the finished run {key}; run it first.")
            return ceiling(runs[key], data, model, widths[model], budget)
        return train_once(data, model, widths[model], cell["policy"], cell["seed"], budget)

    def on_row(row: dict, grid) -> None:
        if row.get("task") != "ceiling":
            print(
                f"{row['dataset']}/{row['model']}/{row['policy']}/{row['seed']}: "
                f"{row['seconds']:.1f} s, test {row['test_accuracy']:.4f}, "
                f"frozen {row['frozen_per_epoch']}",
                flush=True,
            )

    def figures(rows: list[dict]) -> dict:
        runs, ceilings = _split(rows)
        return {
            "protocol": {**budget, "models": widths},
            "runs": runs,
            "ceilings": ceilings,
            "table": aggregate(runs, datasets, models, policies, seeds),
            "differences": differences(rows),
        }

    grid = run_grid(
        "freezing",
        cells_of(datasets, models, policies, seeds),
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        rows_from=rows_from,
        figures=figures,
        on_row=on_row,
    )
    runs, ceilings = _split(grid.rows)
    print(table(aggregate(runs, datasets, models, policies, seeds), TABLE_COLUMNS))
    if "none" in policies:
        print(
            "\ntest accuracy minus no freezing's, points, paired by seed (bootstrap 95% interval):"
        )
        print(table(differences(grid.rows), ["dataset", "model", "policy", *DIFFERENCE_COLUMNS]))
    for key, c in ceilings.items():
        steps = {k: round(v, 4) for k, v in c["step_seconds"].items()}
        print(
            f"ceiling {key}: prefixes by stage {c['chosen_prefixes']} -> {c['ceiling_saving']:.1%} "
            f"of step time; seconds per step by frozen prefix {steps}"
        )
    print(f"written: {out}")
    if grid.failed:
        raise SystemExit(f"{len(grid.failed)} runs failed: {[f['error'] for f in grid.failed]}")


if __name__ == "__main__":
    main()
