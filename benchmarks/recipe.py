"""Which training recipe: the shared ``training.Recipe`` against today's final-fit recipe.

Per data set, arm and seed, in a fresh Python pinned to its own core: build the textbook CNN
(``zoo.textbook_cnn``, one initialisation per seed for every arm), train it for the budget's
epochs with the arm's recipe on the training split (validation split for the kept weights),
score the test split. Arms (each one change from ``recipe``, the default, except ``today``):

* ``today``: Adam 1e-3, constant rate, no augmentation, last weights (the search's final fit);
* ``recipe``: ``Recipe()`` (AdamW 3e-3, weight decay 5e-4, 10 % warm-up then cosine, batch 64,
  flips and translations on colour images, best validation epoch);
* ``smooth``: + label smoothing 0.1;  ``ema``: EMA of the weights instead of the best epoch;
* ``no_aug``: no augmentation;  ``onecycle``: linear one-cycle instead of cosine;
* ``sgd``: SGD with momentum 0.9 at 0.05 instead of AdamW;
* ``keras_bn``: the model's BatchNorm at Keras's default momentum 0.99 instead of the zoo's 0.9
  (a model setting, not a recipe field: ``MODEL_ARMS``).

Paired per-seed differences against ``today`` and against ``recipe`` with bootstrap 95 %
intervals; steps per second beside accuracy.

    python -m benchmarks.recipe --budget small --lanes 2    # CIFAR-10 subset and digits, 3 seeds
    python -m benchmarks.recipe --budget short --arms recipe,keras_bn   # 6 epochs: BN momentum
    (one CIFAR run is ~6 min on one core: 15 epochs of the textbook CNN at ~21 s an epoch)
"""

from __future__ import annotations

import statistics
import time

from automl_kit.utils import write_json
from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    Lanes,
    load_average,
    paired_differences,
    parser,
    run_grid,
    table,
)

BUDGETS = {
    "small": {"datasets": {"cifar10": 15, "digits": 30}, "seeds": [0, 1, 2]},
    # the few hundred steps of a search's evaluation or a cross-validation fold
    "short": {"datasets": {"cifar10": 6, "digits": 6}, "seeds": [0, 1, 2]},
    "full": {"datasets": {"cifar10": 30, "fashion_mnist": 15}, "seeds": [0, 1, 2, 3, 4]},
}
SIZES = {
    "cifar10": (None, None, None),
    "digits": (None, None, None),
    "fashion_mnist": (10_000, 1_000, 10_000),
}
ARMS = {
    "today": {
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "schedule": "constant",
        "warmup": 0.0,
        "augment": "none",
        "keep": "last",
    },
    "recipe": {},
    "smooth": {"label_smoothing": 0.1},
    "ema": {"keep": "ema"},
    "no_aug": {"augment": "none"},
    "onecycle": {"schedule": "onecycle", "warmup": 0.3},
    "sgd": {"optimizer": "sgd", "learning_rate": 0.05},
    "keras_bn": {},
}
# arm -> BatchNorm momentum set on the built model (the zoo builds with 0.9)
MODEL_ARMS = {"keras_bn": 0.99}


def run_one(dataset: str, arm: str, seed: int, epochs: int) -> dict:
    import keras

    from automl_kit.datasets import load
    from automl_kit.training import Recipe
    from automl_kit.zoo import BATCH_NORM_MOMENTUM, build_model

    n_train, n_val, n_test = SIZES[dataset]
    data = load(dataset, n_train=n_train, n_val=n_val, n_test=n_test, seed=0)
    keras.utils.set_random_seed(seed)
    model = build_model("textbook_cnn", data.input_shape, data.num_classes)
    if arm in MODEL_ARMS:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = MODEL_ARMS[arm]
    recipe = Recipe(**ARMS[arm])
    start = time.perf_counter()
    history = recipe.fit(
        model,
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        epochs=epochs,
        seed=seed,
    ).history
    seconds = time.perf_counter() - start
    _, test = model.evaluate(data.x_test, data.y_test, verbose=0, batch_size=256)
    steps = epochs * -(-len(data.x_train) // recipe.batch_size)
    return {
        "test_accuracy": float(test),
        "best_val_accuracy": float(max(history["val_accuracy"])),
        "last_val_accuracy": float(history["val_accuracy"][-1]),
        "epochs": epochs,
        "seconds": round(seconds, 1),
        "steps_per_second": round(steps / seconds, 2),
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "recipe": recipe.get_config(),
        "batch_norm_momentum": MODEL_ARMS.get(arm, BATCH_NORM_MOMENTUM),
        "load_average": load_average(),
    }


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for dataset, arm in dict.fromkeys((r["dataset"], r["arm"]) for r in rows):
        members = [r for r in rows if (r["dataset"], r["arm"]) == (dataset, arm)]
        acc = [r["test_accuracy"] for r in members]
        out.append(
            {
                "dataset": dataset,
                "arm": arm,
                "seeds": len(members),
                "test_mean": statistics.fmean(acc),
                "test_min": min(acc),
                "test_max": max(acc),
                "seconds": statistics.fmean(r["seconds"] for r in members),
                "steps_per_second": statistics.fmean(r["steps_per_second"] for r in members),
            }
        )
    return out


def figures(rows: list[dict]) -> dict:
    compare = {
        baseline: paired_differences(
            rows, metric="test_accuracy", baseline=baseline, arm="arm", scale=100
        )
        for baseline in ("today", "recipe")
    }
    return {"runs": rows, "summary": summarise(rows), "differences": compare}


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=tuple(BUDGETS))
    p.add_argument("--datasets", default=None, help="comma-separated (default: the budget's)")
    p.add_argument("--arms", default=None, help=f"comma-separated of {', '.join(ARMS)}")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    p.add_argument("--lanes", type=int, default=1, help="runs at a time, one core each")
    p.add_argument("--resume", action="store_true", help="keep finished runs of the output JSON")
    p.add_argument("--single", default=None, help="DATASET:ARM:SEED:EPOCHS (a child run)")
    args = p.parse_args(argv)
    if args.single:
        dataset, arm, seed, epochs = args.single.split(":")
        write_json(args.out, run_one(dataset, arm, int(seed), int(epochs)))
        return
    budget = BUDGETS[args.budget]
    datasets = args.datasets.split(",") if args.datasets else list(budget["datasets"])
    arms = args.arms.split(",") if args.arms else list(ARMS)
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        p.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else budget["seeds"]
    out = args.out or str(RESULTS / f"recipe-{args.budget}.json")
    cells = [{"dataset": d, "arm": a, "seed": s} for d in datasets for s in seeds for a in arms]
    lanes = Lanes(args.lanes)

    def run_cell(cell: dict) -> dict:
        epochs = budget["datasets"].get(cell["dataset"], 15)
        return lanes.run(
            "benchmarks.recipe",
            ["--single", f"{cell['dataset']}:{cell['arm']}:{cell['seed']}:{epochs}"],
            label=f"{cell['dataset']} {cell['arm']} seed {cell['seed']}",
        )

    def on_row(row: dict, grid) -> None:
        print(
            f"{row['dataset']} {row['arm']} seed {row['seed']}: test {row['test_accuracy']:.4f} "
            f"({row['seconds']:.0f} s, {row['steps_per_second']:.1f} steps/s)",
            flush=True,
        )

    grid = run_grid(
        "recipe",
        cells,
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        lanes=args.lanes,
        figures=figures,
        on_row=on_row,
    )
    result = figures(grid.rows)
    columns = ["dataset", "arm", "seeds", "test_mean", "test_min", "test_max", "seconds"]
    print(table(result["summary"], [*columns, "steps_per_second"]))
    for baseline, rows in result["differences"].items():
        print(f"\ntest accuracy minus {baseline}'s, points, paired by seed (bootstrap 95 %):")
        print(table(rows, ["dataset", "arm", *DIFFERENCE_COLUMNS, "positive"]))
    print(f"written: {out}")
    if grid.failed:
        raise SystemExit(f"{len(grid.failed)} runs failed")


if __name__ == "__main__":
    main()
