"""Label-noise detection (cleanlab on out-of-fold probabilities) and what cleaning buys (issue 16).

Per data set, flip fraction (5%, 10%), flip kind (uniform; between confusable class pairs) and
seed: flip the training labels with ``flip_labels``; compute out-of-fold probabilities with a
K-fold Keras MLP (the same architecture as below); find label issues with
``automl_kit.diagnose.find_label_issues`` and score the detection against the known flips
(precision, recall). Then train the same MLP (same initialisation seed, epochs, batch size) four
ways and score the clean test set: on the noisy labels, on the noisy labels with suspects dropped
(``sample_weight`` 0), re-weighted (``sample_weight`` = out-of-fold probability of the given
label), and on the original clean labels. "Recovered" = (cleaned - noisy) / (clean - noisy), per
seed. Paired per-seed differences against "noisy" with bootstrap 95% intervals.

    python -m benchmarks.label_noise --budget small          # MNIST 10k, ~10 min on 2 cores
    python -m benchmarks.label_noise --budget small --datasets cifar10   # the 3,600-image subset
    python -m benchmarks.label_noise --budget full           # + CIFAR-10, 5 seeds
    python -m benchmarks.label_noise --budget models --datasets cifar10   # detection only

The ``models`` budget (issue 25) measures detection only, from three out-of-fold models on the
same flips: logistic regression (the library's table default), the MLP above, and the textbook
CNN on the shared recipe (``out_of_fold_probabilities(model="cnn")``, what ``diagnose`` uses
for images), with each model's seconds.
"""

from __future__ import annotations

import statistics
from functools import lru_cache

from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    paired_differences,
    parser,
    run_grid,
    table,
)

BUDGETS = {
    "small": {
        "datasets": {"mnist": (10_000, 500, 5_000)},
        "fractions": (0.05, 0.10),
        "kinds": ("uniform", "pairs"),
        "seeds": [0, 1, 2],
        "folds": 3,
        "epochs": 6,
        "units": 256,
        "batch_size": 128,
    },
    "full": {
        "datasets": {"mnist": (10_000, 500, 10_000), "cifar10": (None, None, None)},
        "fractions": (0.05, 0.10),
        "kinds": ("uniform", "pairs"),
        "seeds": [0, 1, 2, 3, 4],
        "folds": 5,
        "epochs": 15,
        "units": 512,
        "batch_size": 128,
    },
    "models": {
        "datasets": {"mnist": (5_000, 500, 5_000), "cifar10": (None, None, None)},
        "fractions": (0.05, 0.10),
        "kinds": ("uniform", "pairs"),
        "seeds": [0],
        "folds": 3,
        "epochs": 6,
        "units": 256,
        "batch_size": 128,
        "oof_models": ("logistic", "mlp", "cnn"),
    },
    # issue 25: what re-weighting recovers when the CNN both finds the suspects and is trained
    "cnn": {
        "datasets": {"mnist": (5_000, 500, 5_000)},
        "fractions": (0.10,),
        "kinds": ("pairs",),
        "seeds": [0, 1, 2],
        "folds": 3,
        "epochs": 6,
        "batch_size": 64,  # the recipe's
        "model": "cnn",
        "arms": ("noisy", "reweighted", "clean"),
    },
}
# disjoint pairs each data set's classifiers confuse most (MNIST digits; CIFAR-10:
# automobile/truck, cat/dog, airplane/ship, deer/horse, bird/frog)
PAIRS = {
    "mnist": [(4, 9), (3, 5), (7, 1), (2, 8)],
    "fashion_mnist": [(0, 6), (2, 4), (5, 7)],
    "cifar10": [(1, 9), (3, 5), (0, 8), (4, 7), (2, 6)],
}
ARMS = ("noisy", "dropped", "reweighted", "clean")
# (n_train, n_val, n_test) of a data set the budget does not list; None: all there is (the
# offline CIFAR-10 subset holds 3,600 / 400 / 1,000 images)
SIZES = {
    "mnist": (10_000, 500, 5_000),
    "fashion_mnist": (10_000, 500, 5_000),
    "cifar10": (None, None, None),
}


def mlp(input_shape, num_classes: int, units: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(units // 2, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def _train(data, labels, weight, seed: int, budget: dict):
    """The budget's model trained on ``labels``: the MLP, or the textbook CNN on the recipe
    (``keep="last"``, as ``out_of_fold_probabilities(model="cnn")`` trains its folds)."""
    if budget.get("model") != "cnn":
        model = mlp(data.input_shape, data.num_classes, budget["units"], seed)
        model.fit(
            data.x_train,
            labels,
            sample_weight=weight,
            epochs=budget["epochs"],
            batch_size=budget["batch_size"],
            verbose=0,
        )
        return model
    import keras

    from automl_kit.training import Recipe
    from automl_kit.zoo import build_model

    keras.utils.set_random_seed(seed)
    model = build_model("textbook_cnn", data.input_shape, data.num_classes)
    Recipe(batch_size=budget["batch_size"], keep="last").fit(
        model,
        data.x_train,
        labels,
        validation_data=None,
        epochs=budget["epochs"],
        seed=seed,
        sample_weight=weight,
    )
    return model


def run_once(data, fraction: float, kind: str, seed: int, budget: dict) -> dict:
    import time

    from automl_kit.diagnose import find_label_issues, flip_labels, out_of_fold_probabilities

    pairs = PAIRS[data.name] if kind == "pairs" else None
    noisy, flipped = flip_labels(
        data.y_train, fraction, num_classes=data.num_classes, pairs=pairs, seed=seed
    )
    shape, k, units = data.input_shape, data.num_classes, budget.get("units")
    start = time.perf_counter()
    probabilities = out_of_fold_probabilities(
        data.x_train,
        noisy,
        "cnn" if budget.get("model") == "cnn" else (lambda s: mlp(shape, k, units, s)),
        cv=budget["folds"],
        seed=seed,
        epochs=budget["epochs"],
        batch_size=budget["batch_size"],
        num_classes=k,
    )
    oof_seconds = time.perf_counter() - start
    issues = find_label_issues((data.x_train, noisy), probabilities)
    detection = issues.precision_recall(flipped)
    # the issue's operating point: the most suspect first, cut where recall reaches 0.6
    detection["precision_at_recall_0.6"] = issues.precision_at_recall(flipped, 0.6)
    weights = {
        "noisy": (noisy, None),
        "dropped": (noisy, issues.sample_weight("drop")),
        "reweighted": (noisy, issues.sample_weight("reweight")),
        "clean": (data.y_train, None),
    }
    accuracy, seconds = {}, {}
    for arm in budget.get("arms", ARMS):
        labels, weight = weights[arm]
        start = time.perf_counter()
        model = _train(data, labels, weight, 1000 + seed, budget)  # one initialisation per seed
        seconds[arm] = time.perf_counter() - start
        accuracy[arm] = float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])
    lost = accuracy["clean"] - accuracy["noisy"]
    return {
        **detection,
        "oof_accuracy_on_noisy": float((probabilities.argmax(1) == noisy).mean()),
        "oof_seconds": round(oof_seconds, 1),
        **{f"acc_{arm}": value for arm, value in accuracy.items()},
        **{f"seconds_{arm}": round(value, 1) for arm, value in seconds.items()},
        **{
            f"recovered_{arm}": (accuracy[arm] - accuracy["noisy"]) / lost if lost > 0 else None
            for arm in ("dropped", "reweighted")
            if arm in accuracy
        },
    }


def detect_once(data, fraction: float, kind: str, seed: int, budget: dict) -> dict:
    """Detection only, by each of ``budget["oof_models"]`` on the same flipped labels."""
    import time

    from automl_kit.diagnose import find_label_issues, flip_labels, out_of_fold_probabilities

    pairs = PAIRS[data.name] if kind == "pairs" else None
    noisy, flipped = flip_labels(
        data.y_train, fraction, num_classes=data.num_classes, pairs=pairs, seed=seed
    )
    shape, k, units = data.input_shape, data.num_classes, budget["units"]
    row = {}
    for name in budget["oof_models"]:
        model = (lambda s: mlp(shape, k, units, s)) if name == "mlp" else name
        batch_size = budget["batch_size"] if name == "mlp" else 64  # the CNN: the recipe's
        start = time.perf_counter()
        probabilities = out_of_fold_probabilities(
            data.x_train,
            noisy,
            model,
            cv=budget["folds"],
            seed=seed,
            epochs=budget["epochs"],
            batch_size=batch_size,
            num_classes=k,
        )
        seconds = time.perf_counter() - start
        issues = find_label_issues((data.x_train, noisy), probabilities)
        detection = issues.precision_recall(flipped)
        row.update(
            {
                f"{name}_precision": detection["precision"],
                f"{name}_recall": detection["recall"],
                f"{name}_precision_at_recall_0.6": issues.precision_at_recall(flipped, 0.6),
                f"{name}_oof_accuracy_on_clean": float(
                    (probabilities.argmax(1) == data.y_train).mean()
                ),
                f"{name}_seconds": round(seconds, 1),
            }
        )
    return {"flipped": int(flipped.sum()), "n_train": len(noisy), **row}


def detection_figures(rows: list[dict]) -> dict:
    """Per data set, noise and out-of-fold model: mean detection figures over seeds."""
    models = [key[: -len("_precision")] for key in rows[0] if key.endswith("_precision")]
    summary = []
    for group in dict.fromkeys((r["dataset"], r["noise"]) for r in rows):
        members = [r for r in rows if (r["dataset"], r["noise"]) == group]
        for name in models:

            def mean(key, members=members, name=name):
                values = [m[f"{name}_{key}"] for m in members]
                values = [v for v in values if v is not None]
                return statistics.fmean(values) if values else None

            summary.append(
                {
                    "dataset": group[0],
                    "noise": group[1],
                    "model": name,
                    "seeds": len(members),
                    "precision": mean("precision"),
                    "recall": mean("recall"),
                    "precision_at_recall_0.6": mean("precision_at_recall_0.6"),
                    "oof_accuracy": mean("oof_accuracy_on_clean"),
                    "seconds": mean("seconds"),
                }
            )
    return {"runs": rows, "summary": summary}


def _arms(rows: list[dict]) -> list[str]:
    """The arms the rows were trained with (the ``cnn`` budget skips "dropped")."""
    return [arm for arm in ARMS if f"acc_{arm}" in rows[0]]


def figures(rows: list[dict]) -> dict:
    arms = [
        {**{k: r[k] for k in ("dataset", "noise", "seed")}, "arm": arm, "accuracy": r[f"acc_{arm}"]}
        for r in rows
        for arm in _arms(rows)
    ]
    differences = paired_differences(
        arms, metric="accuracy", baseline="noisy", arm="arm", by=("dataset", "noise"), scale=100
    )
    summary = []
    for group in dict.fromkeys((r["dataset"], r["noise"]) for r in rows):
        members = [r for r in rows if (r["dataset"], r["noise"]) == group]

        def mean(key, members=members):
            values = [m[key] for m in members if m.get(key) is not None]
            return statistics.fmean(values) if values else None

        summary.append(
            {
                "dataset": group[0],
                "noise": group[1],
                "seeds": len(members),
                "precision": mean("precision"),
                "recall": mean("recall"),
                "precision_at_recall_0.6": mean("precision_at_recall_0.6"),
                **{f"acc_{a}": mean(f"acc_{a}") for a in _arms(rows)},
                "recovered_dropped": mean("recovered_dropped"),
                "recovered_reweighted": mean("recovered_reweighted"),
                "oof_seconds": mean("oof_seconds"),
            }
        )
    return {"runs": rows, "summary": summary, "differences": differences}


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=tuple(BUDGETS))
    p.add_argument("--datasets", default=None, help="comma-separated data sets (default: budget's)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: budget's)")
    p.add_argument("--resume", action="store_true", help="keep finished runs of the output JSON")
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    datasets = args.datasets.split(",") if args.datasets else list(budget["datasets"])
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else budget["seeds"]
    out = args.out or str(RESULTS / f"label_noise-{args.budget}.json")

    @lru_cache(maxsize=1)
    def data_of(dataset: str):
        from automl_kit.datasets import load

        n_train, n_val, n_test = budget["datasets"].get(
            dataset, SIZES.get(dataset, (None, None, None))
        )
        return load(dataset, n_train=n_train, n_val=n_val, n_test=n_test, seed=0)

    cells = [
        {"dataset": d, "noise": f"{kind}-{int(round(100 * f))}%", "seed": s}
        for d in datasets
        for f in budget["fractions"]
        for kind in budget["kinds"]
        for s in seeds
    ]

    detection_only = "oof_models" in budget
    once = detect_once if detection_only else run_once
    summarise = detection_figures if detection_only else figures

    def run_cell(cell: dict) -> dict:
        kind, percent = cell["noise"].split("-")
        return once(data_of(cell["dataset"]), int(percent[:-1]) / 100, kind, cell["seed"], budget)

    def on_row(row: dict, grid) -> None:
        if detection_only:
            print(
                f"{row['dataset']}/{row['noise']}/{row['seed']}: "
                + "; ".join(
                    f"{m} precision@0.6 {row[f'{m}_precision_at_recall_0.6']} "
                    f"({row[f'{m}_seconds']:.0f} s)"
                    for m in budget["oof_models"]
                ),
                flush=True,
            )
            return
        accuracies = " ".join(f"{arm} {row[f'acc_{arm}']:.4f}" for arm in _arms([row]))
        print(
            f"{row['dataset']}/{row['noise']}/{row['seed']}: precision {row['precision']:.3f} "
            f"recall {row['recall']:.3f}; test acc {accuracies}",
            flush=True,
        )

    grid = run_grid(
        "label_noise",
        cells,
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        figures=summarise,
        on_row=on_row,
    )
    result = summarise(grid.rows)
    print()
    if detection_only:
        columns = ["dataset", "noise", "model", "seeds", "precision", "recall"]
        print(table(result["summary"], [*columns, "precision_at_recall_0.6", "oof_accuracy"]))
        print(f"\nresults: {grid.path}")
        raise SystemExit(1 if grid.failed else 0)
    print(
        table(
            result["summary"],
            [
                "dataset",
                "noise",
                "seeds",
                "precision",
                "recall",
                "precision_at_recall_0.6",
                *[f"acc_{a}" for a in _arms(grid.rows)],
                "recovered_dropped",
                "recovered_reweighted",
            ],
        )
    )
    print()
    print(table(result["differences"], ["dataset", "noise", "arm", *DIFFERENCE_COLUMNS]))
    print(f"\nresults: {grid.path}")
    if grid.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
