"""``auto`` against AutoKeras and against its own floor, at equal wall clock (issue 26).

Every arm gets the same data (the data set's splits drawn with seed 0), the same wall clock and
one core (``--lanes 2`` runs two arms at a time, each pinned to its own core); ``seed`` is the
arm's own seed. Test accuracy of the model each arm returns, paired per seed against ``floor``,
``autokeras`` and ``auto_no_actions`` with bootstrap 95% intervals.

Arms:
- ``auto``: ``automl_kit.auto.auto`` with every step.
- ``floor``: the simplest rival, ``auto(steps=("floor",))``: the textbook CNN on the recipe
  with the whole budget (at most 40 epochs), no search, no actions.
- ``autokeras``: AutoKeras 3 ``ImageClassifier`` (``pip install autokeras``; the arm is skipped
  without it). It has no time limit: a callback ends the trial in progress at 70 % of the budget
  and lets the tuner start no further trial; AutoKeras then retrains its best trial on the
  training split, stopped at the budget. Its seconds include that overshoot, if any.
- ``auto_no_actions``: ``auto`` with floor, search and final fit only (the same budget), against
  which the ``planted`` budget measures what the diagnosis-driven steps add on data with a
  planted problem (``NAME+pairs10``, ``NAME+rare10``: see :func:`load`).

Tables (the ``tables`` budget: the diabetes readmission table and one made from the simulated
EHR cohort, both two-class with a rare outcome) are judged by test AUROC; ``auto`` runs with
``metric="roc_auc"``. Their arms:
- ``auto`` as above;
- ``tree``: our best single tree, the floor's XGBoost (a grid of 4 settings chosen on validation
  AUROC, early stopping), without a time limit: the simplest rival;
- ``autogluon``: AutoGluon ``TabularPredictor(eval_metric="roc_auc")`` fitted on the training
  split with validation as its tuning data, ``time_limit`` the budget, one CPU, default presets.
  AutoGluon pins its own pandas, pyarrow and xgboost, so it runs in an environment of its own:
  ``--autogluon-python PATH`` (default ``$AUTOGLUON_PYTHON``) names its Python, which runs
  ``benchmarks/_autogluon_arm.py``; without one the arm is skipped.

    python -m benchmarks.auto_compare --budget small --lanes 2
    python -m benchmarks.auto_compare --budget planted --lanes 2
    python -m benchmarks.auto_compare --budget planted_small --lanes 2   # digits, 4 minutes
    python -m benchmarks.auto_compare --budget full --lanes 2     # 20 minutes a run
    python -m benchmarks.auto_compare --budget tables --lanes 2 --autogluon-python ag/bin/python
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from automl_kit.utils import parse_duration, write_json
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

IMAGES = {  # name: (source, n_train, n_val, n_test)
    "digits": ("digits", None, None, None),
    "mnist": ("mnist", 10_000, 1_000, 5_000),
    "fashion_mnist": ("fashion_mnist", 10_000, 1_000, 5_000),
    "cifar10": ("cifar10", None, None, None),  # the shared 3,600 / 400 / 1,000 subset
    # small enough that a 30-epoch floor leaves room for the actions on one CPU core, with a
    # validation split large enough for the keep rule (1 image: 0.25 points)
    "digits_val400": ("digits", None, 400, None),
}
TABLES = ("diabetes_130us", "ehr_cohort")
EHR_PATIENTS = 20_000  # the simulated cohort, 3 % positive (as benchmarks/ehr_boost.py, small)
MNIST_PAIRS = [(4, 9), (3, 5), (7, 1), (2, 8)]
PAIRS = {"mnist": MNIST_PAIRS, "digits": MNIST_PAIRS, "fashion_mnist": [(0, 6), (2, 4), (5, 7)]}
RARE_CLASS = 6  # Fashion-MNIST's shirts, MNIST's sixes
BUDGETS = {
    "small": {"datasets": ("digits", "fashion_mnist"), "seeds": [0, 1, 2], "time_budget": 180},
    "full": {
        "datasets": ("digits", "mnist", "fashion_mnist", "cifar10"),
        "seeds": [0, 1, 2],
        "time_budget": 1200,
    },
    # the diagnosis-driven steps on planted problems: auto against auto without them
    "planted": {
        "datasets": ("fashion_mnist+pairs10", "fashion_mnist+rare10"),
        "seeds": [0, 1, 2],
        "time_budget": 300,
        "arms": ("auto", "auto_no_actions"),
    },
    # the same at a size where the floor leaves time for the actions (on Fashion-MNIST 3k at
    # 8 minutes the floor took 5.3 and no action fitted after it)
    "planted_small": {
        "datasets": ("digits_val400+pairs10", "digits_val400+rare10"),
        "seeds": [0, 1, 2],
        "time_budget": 240,
        "arms": ("auto", "auto_no_actions"),
    },
    "tables": {"datasets": TABLES, "seeds": [0, 1, 2], "time_budget": 1200},
}
IMAGE_ARMS = ("auto", "floor", "autokeras", "auto_no_actions")
TABLE_ARMS = ("auto", "tree", "autogluon")
ARMS = tuple(dict.fromkeys(IMAGE_ARMS + TABLE_ARMS))
NO_ACTIONS = ("floor", "search", "final_fit")
SEARCH_SHARE = 0.7  # of the budget AutoKeras may spend searching before its final fit


def load(dataset: str):
    """``NAME`` or ``NAME+PROBLEM``: the data set with a planted problem in its training split
    (``pairs10``: 10 % of the labels flipped between confusable pairs; ``rare10``: class 6 kept
    at a tenth of its examples). Validation and test stay clean."""
    import dataclasses

    import numpy as np

    from automl_kit import datasets
    from automl_kit.diagnose import flip_labels

    name, _, problem = dataset.partition("+")
    if name in TABLES:
        return load_table(name)
    source, n_train, n_val, n_test = IMAGES[name]
    data = datasets.load(source, n_train=n_train, n_val=n_val, n_test=n_test, seed=0)
    if problem == "pairs10":
        noisy, _ = flip_labels(data.y_train, 0.1, pairs=PAIRS[source], seed=0)
        data = dataclasses.replace(data, y_train=noisy)
    elif problem == "rare10":
        rng = np.random.default_rng(0)
        rare = np.flatnonzero(data.y_train == RARE_CLASS)
        drop = rng.choice(rare, len(rare) - len(rare) // 10, replace=False)
        keep = np.setdiff1d(np.arange(len(data.y_train)), drop)
        data = dataclasses.replace(
            data,
            x_train=data.x_train[keep],
            y_train=data.y_train[keep],
            index_train=None if data.index_train is None else data.index_train[keep],
        )
    elif problem:
        raise ValueError(f"unknown planted problem {problem!r}; choose pairs10 or rare10.")
    return data


def load_table(name: str):
    """The diabetes readmission table (its own patient-grouped splits), or the simulated EHR
    cohort as one row per patient: event counts per code and window, and demographics."""
    import numpy as np

    from automl_kit import datasets

    if name == "diabetes_130us":
        return datasets.load(name, seed=0)
    tables = datasets.ehr_cohort(EHR_PATIENTS, positive_rate=0.03, seed=0)
    counts, _ = tables.counts()
    demographics, _ = tables.demographics()
    x = np.concatenate([counts.reshape(len(counts), -1), demographics], axis=1)
    return datasets.from_arrays(x, tables.labels, name=name, seed=0)


def run_auto(data, seed: int, seconds: float, steps=None) -> dict:
    from automl_kit.auto import auto

    metric = "roc_auc" if data.kind == "tabular" else "accuracy"
    with tempfile.TemporaryDirectory() as folder:
        result = auto(
            data, time_budget=seconds, steps=steps, metric=metric, run_dir=f"{folder}/run",
            seed=seed, verbose=0,
        )  # fmt: skip
    kept = [s for s, r in result.records.items() if r.get("kept")]
    return {
        "test_accuracy": result.final["test_accuracy"],
        "val_accuracy": result.final["val_accuracy"],
        **{k: result.final[k] for k in ("test_auroc", "val_auroc") if k in result.final},
        "model": result.final["name"],
        "models_trained": len(result.leaderboard),
        "actions_kept": kept,
        "skipped": {s: r["reason"] for s, r in result.records.items() if not r.get("ran", True)},
        "ensemble_weights": result.records.get("ensemble", {}).get("weights"),
    }


def run_tree(data, seed: int, seconds: float) -> dict:
    """The floor's tuned XGBoost, from ``auto(steps=("floor",))`` (which also trains the dense
    default: its figures are kept beside the tree's)."""
    from automl_kit.auto import auto

    with tempfile.TemporaryDirectory() as folder:
        result = auto(
            data, time_budget=seconds, steps=("floor",), metric="roc_auc",
            run_dir=f"{folder}/run", seed=seed, verbose=0,
        )  # fmt: skip
    board = {e["name"]: e for e in result.leaderboard}
    tree, dense = board["xgboost"], board["dense_default"]
    return {
        **{k: tree[k] for k in ("test_auroc", "val_auroc", "test_accuracy", "val_accuracy")},
        "model": f"xgboost {tree['spec']['params']}",
        "tree_seconds": tree["seconds"],
        "dense_default": {k: dense[k] for k in ("test_auroc", "val_auroc", "seconds", "epochs")},
    }


def run_autogluon(data, seed: int, seconds: float, python: str) -> dict:
    """AutoGluon in its own environment's Python (``benchmarks/_autogluon_arm.py``)."""
    import json

    import numpy as np

    script = Path(__file__).with_name("_autogluon_arm.py")
    with tempfile.TemporaryDirectory() as folder:
        splits, out = Path(folder) / "splits.npz", Path(folder) / "out.json"
        np.savez(
            splits, x_train=data.x_train, y_train=data.y_train, x_val=data.x_val,
            y_val=data.y_val, x_test=data.x_test, y_test=data.y_test,
        )  # fmt: skip
        subprocess.run(
            [python, str(script), str(splits), str(seconds), str(seed), str(out)], check=True
        )
        return json.loads(out.read_text())


def run_autokeras(data, seed: int, seconds: float) -> dict:
    import autokeras
    import keras
    import numpy as np

    _plain_int_shapes(autokeras)
    keras.utils.set_random_seed(seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        classifier = autokeras.ImageClassifier(
            num_classes=data.num_classes,
            max_trials=100,
            directory=folder,
            project_name="run",
            seed=seed,
            overwrite=True,
        )
        stop = _deadline(classifier, started + SEARCH_SHARE * seconds, started + seconds)
        classifier.fit(
            data.x_train, data.y_train, validation_data=data.validation_data,
            callbacks=[stop], verbose=0,
        )  # fmt: skip
        predicted = np.asarray(classifier.predict(data.x_test, verbose=0)).reshape(-1)
        trials = len(classifier.tuner.oracle.trials)
    return {
        "test_accuracy": float(np.mean(predicted.astype(int) == data.y_test)),
        "trials": trials,
        "overshoot_seconds": round(max(time.monotonic() - started - seconds, 0.0), 1),
    }


def _plain_int_shapes(autokeras) -> None:
    """AutoKeras 3.0.0 gives its heads NumPy integers as shapes, which Keras 3.15's ``Dense``
    refuses ("expected a positive integer. Received: units=10"): hand it Python integers."""
    from autokeras.graph import Graph

    if getattr(Graph.set_io_shapes, "plain_ints", False):
        return
    original = Graph.set_io_shapes

    def set_io_shapes(self, shapes):
        import numpy as np
        import tree

        # each shape is a NumPy array (a leaf for ``tree``): an object array of Python ints
        as_ints = tree.map_structure(
            lambda a: np.array([None if d is None else int(d) for d in a], dtype=object), shapes
        )
        return original(self, as_ints)

    set_io_shapes.plain_ints = True
    Graph.set_io_shapes = set_io_shapes


def _deadline(classifier, search_end: float, end: float):
    """A Keras callback for AutoKeras: after ``search_end`` no further trial starts and the one in
    progress stops; the final fit (when no trial is ongoing) stops at ``end``. AutoKeras
    deep-copies callbacks, so its copies are this same object. (Defined here so that Keras is
    imported only in the run that uses it.)"""
    import keras

    class Deadline(keras.callbacks.Callback):
        def __deepcopy__(self, memo):
            return self

        def on_train_batch_end(self, batch, logs=None):
            oracle = classifier.tuner.oracle
            now = time.monotonic()
            if oracle.ongoing_trials and now > search_end:
                oracle.max_trials = len(oracle.trials)  # no new trial
                self.model.stop_training = True
            elif now > end:
                self.model.stop_training = True

    return Deadline()


def run_one(dataset: str, arm: str, seed: int, seconds: float, autogluon: str | None) -> dict:
    data = load(dataset)
    started = time.perf_counter()
    load_start = load_average()
    if arm == "autokeras":
        figures = run_autokeras(data, seed, seconds)
    elif arm == "tree":
        figures = run_tree(data, seed, seconds)
    elif arm == "autogluon":
        figures = run_autogluon(data, seed, seconds, autogluon)
    else:
        steps = {"floor": ("floor",), "auto_no_actions": NO_ACTIONS}.get(arm)
        figures = run_auto(data, seed, seconds, steps=steps)
    return {
        **figures,
        "seconds": round(time.perf_counter() - started, 1),
        "budget_seconds": seconds,
        "load_start": load_start,
        "load_end": load_average(),
    }


def judged_by(dataset: str) -> str:
    """Tables are judged by test AUROC (a rare outcome), images by test accuracy."""
    return "test_auroc" if dataset.partition("+")[0] in TABLES else "test_accuracy"


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        metric = judged_by(dataset)
        for arm in ARMS:
            done = [r for r in rows if r["dataset"] == dataset and r["arm"] == arm]
            if done:
                out.append(
                    {
                        "dataset": dataset,
                        "arm": arm,
                        "metric": metric,
                        "seeds": len(done),
                        "median_test": statistics.median(r[metric] for r in done),
                        "mean_test": statistics.fmean(r[metric] for r in done),
                        "mean_seconds": statistics.fmean(r["seconds"] for r in done),
                    }
                )
    return out


def differences(rows: list[dict]) -> list[dict]:
    """Each arm minus each baseline, in points of the data set's metric, paired by seed."""
    found = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        metric = judged_by(dataset)
        for baseline in ("floor", "autokeras", "auto_no_actions", "tree", "autogluon"):
            found += [
                {**d, "metric": metric}
                for d in paired_differences(
                    mine, metric=metric, baseline=baseline, arm="arm", by=("dataset",), scale=100
                )
            ]
    return found


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=tuple(BUDGETS))
    p.add_argument(
        "--datasets", default=None, help="comma-separated data sets (default: the budget's)"
    )
    p.add_argument(
        "--arms",
        default=None,
        help=f"comma-separated arms ({', '.join(ARMS)}; default: the budget's)",
    )
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    p.add_argument(
        "--time-budget", default=None, help="seconds or '3m' a run (default: the budget's)"
    )
    p.add_argument("--lanes", type=int, default=1, help="runs at a time, each on its own cores")
    p.add_argument("--resume", action="store_true", help="keep finished runs of the output JSON")
    p.add_argument(
        "--autogluon-python",
        default=os.environ.get("AUTOGLUON_PYTHON"),
        help="the Python of an environment with AutoGluon (default: $AUTOGLUON_PYTHON)",
    )
    p.add_argument("--single", default=None, help=argparse.SUPPRESS)  # DATASET:ARM:SEED, a child
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    seconds = float(parse_duration(args.time_budget) or budget["time_budget"])
    if args.single:
        dataset, arm, seed = args.single.split(":")
        write_json(args.out, run_one(dataset, arm, int(seed), seconds, args.autogluon_python))
        return
    datasets = args.datasets.split(",") if args.datasets else list(budget["datasets"])
    tables = [d in TABLES for d in datasets]
    if any(tables) and not all(tables):
        p.error("run tables and images apart (their arms differ): split --datasets")
    allowed = TABLE_ARMS if all(tables) else IMAGE_ARMS
    arms = args.arms.split(",") if args.arms else list(budget.get("arms", allowed))
    unknown = sorted(set(arms) - set(allowed))
    if unknown:
        p.error(f"unknown arms {unknown} for these data; choose from {', '.join(allowed)}")
    if "autokeras" in arms:
        try:
            import autokeras  # noqa: F401
        except ImportError:
            print("autokeras is not installed (pip install autokeras): its arm is skipped")
            arms.remove("autokeras")
    if "autogluon" in arms and not args.autogluon_python:
        print("no --autogluon-python (or $AUTOGLUON_PYTHON): the autogluon arm is skipped")
        arms.remove("autogluon")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else budget["seeds"]
    lanes = Lanes(args.lanes)
    cells = [{"dataset": d, "arm": a, "seed": s} for d in datasets for s in seeds for a in arms]

    def run_cell(cell: dict) -> dict:
        key = f"{cell['dataset']}:{cell['arm']}:{cell['seed']}"
        passed = ["--budget", args.budget, "--time-budget", str(seconds), "--single", key]
        if args.autogluon_python:
            passed += ["--autogluon-python", args.autogluon_python]
        return lanes.run("benchmarks.auto_compare", passed, label=key)

    def on_row(row: dict, grid) -> None:
        print(
            f"{row['dataset']}/{row['arm']}/{row['seed']}: test "
            f"{judged_by(row['dataset'])[5:]} {row[judged_by(row['dataset'])]:.4f} "
            f"({row['seconds']:.0f} s)",
            flush=True,
        )

    grid = run_grid(
        "auto_compare",
        cells,
        run_cell,
        out=args.out or str(RESULTS / f"auto_compare-{args.budget}.json"),
        resume=args.resume,
        budget=args.budget,
        lanes=args.lanes,
        figures=lambda rows: {
            "protocol": {
                **budget,
                "time_budget": seconds,
                "lanes": args.lanes,
                "cpus": os.cpu_count(),
            },
            "runs": rows,
            "table": summarise(rows),
            "differences": differences(rows),
        },
        on_row=on_row,
    )
    print(
        table(
            summarise(grid.rows),
            ["dataset", "arm", "metric", "seeds", "median_test", "mean_test", "mean_seconds"],
        )
    )
    print("\ntest metric minus the baseline's, points, paired by seed (bootstrap 95% interval):")
    print(
        table(differences(grid.rows), ["dataset", "metric", "arm", "baseline", *DIFFERENCE_COLUMNS])
    )
    if grid.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
