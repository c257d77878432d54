"""The models ``auto`` trains, each described by a JSON spec so a step can retrain it from scratch.

A spec is ``{"kind": "keras", "zoo": NAME}`` (a zoo model), ``{"kind": "keras", "space":
CONFIG, "genes": [...]}`` (a searched architecture), ``{"kind": "tree", "params": {...}}``
(an XGBoost classifier) or ``{"kind": "ensemble", "members": {NAME: WEIGHT}}`` (a weighted
average of other entries' probabilities). Keras models are saved as ``.keras``, trees as
XGBoost's JSON, ensembles as a JSON list of their members' files and weights.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from automl_kit.utils.interrupt import raise_if_stop_requested

# XGBoost settings the floor tries, chosen on validation accuracy (early stopping on each)
TREE_GRID = (
    {"max_depth": 3, "learning_rate": 0.1},
    {"max_depth": 6, "learning_rate": 0.1},
    {"max_depth": 6, "learning_rate": 0.03},
    {"max_depth": 10, "learning_rate": 0.03, "min_child_weight": 3},
)
TREE_ROUNDS, TREE_PATIENCE = 2000, 50
# The dense-space default for tables: two wide blocks with batch norm and dropout
DENSE_DEFAULT = {
    "global": {"activation": "relu"},
    "blocks": [
        {"units": 256, "dropout": 0.25, "batch_norm": 1},
        {"units": 128, "dropout": 0.25, "batch_norm": 1},
    ],
}


@dataclass
class Trained:
    """One trained model of the leaderboard: what it is (``spec``), how it scored, what it cost."""

    name: str
    spec: dict
    model: Any
    val_accuracy: float
    seconds: float
    epochs: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    def parameters(self) -> int | None:
        """Weights of a Keras model; None for a tree (its ``spec`` holds its rounds)."""
        return int(self.model.count_params()) if self.kind == "keras" else None

    def save(self, path_without_suffix: Path) -> Path:
        path = path_without_suffix.with_suffix(".keras" if self.kind == "keras" else ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.kind == "tree":
            self.model.save_model(path)  # XGBoost's own JSON
        else:
            self.model.save(path)
        return path


class Ensemble:
    """A weighted average of trained models' class probabilities; its file lists the members'
    files (relative to it) and weights.

    >>> import numpy as np
    >>> class Fixed:
    ...     def __init__(self, p): self.p = np.asarray(p, float)
    ...     def predict_proba(self, x): return np.tile(self.p, (len(x), 1))
    >>> both = Ensemble([Fixed([1, 0]), Fixed([0, 1])], [3, 1], ["a.json", "b.json"])
    >>> both.predict_proba(np.zeros((1, 3))).tolist()
    [[0.75, 0.25]]
    """

    def __init__(self, members: list, weights: list[float], paths: list[str]):
        if not members or not (len(members) == len(weights) == len(paths)):
            raise ValueError("an ensemble needs members, each with one weight and one file.")
        self.members, self.paths = list(members), [Path(p).as_posix() for p in paths]
        total = float(sum(weights))
        self.weights = [float(w) / total for w in weights]

    def predict_proba(self, x) -> np.ndarray:
        return sum(w * probabilities(m, x) for m, w in zip(self.members, self.weights))

    def predict(self, x) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)

    def save(self, path: str | Path) -> None:
        """The members' files (``paths``, relative to ``path``'s folder) and weights."""
        from automl_kit.utils import write_json

        members = [{"path": p, "weight": w} for p, w in zip(self.paths, self.weights)]
        write_json(Path(path), {"kind": "ensemble", "members": members})

    @staticmethod
    def read(path: str | Path) -> tuple[list[str], list[float]]:
        """The members' files (relative to ``path``'s folder) and weights saved at ``path``."""
        members = json.loads(Path(path).read_text(encoding="utf-8"))["members"]
        return [m["path"] for m in members], [m["weight"] for m in members]

    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        paths, weights = cls.read(path)
        return cls([load_trained_model(Path(path).parent / p) for p in paths], weights, paths)


def load_trained_model(path: str | Path):
    """A model saved by :meth:`Trained.save` (``.keras``: Keras; ``.json``: XGBoost, or an
    :class:`Ensemble`)."""
    path = Path(path)
    if path.suffix == ".keras":
        import keras

        return keras.models.load_model(path)
    if json.loads(path.read_text(encoding="utf-8")).get("kind") == "ensemble":
        return Ensemble.load(path)
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(path)
    return model


def ensemble_selection(
    probabilities_val: dict[str, np.ndarray], score, *, rounds: int = 20
) -> dict[str, int]:
    """Greedy ensemble selection with replacement (Caruana et al. 2004): ``rounds`` times add
    the member whose addition makes the average score best (``score(p)`` on validation, higher
    is better), and keep the best prefix; returns how often each member was picked (its weight).

    >>> import numpy as np
    >>> y = np.array([0, 1])  # each model right on one example, their average on both
    >>> p = {"a": np.array([[.9, .1], [.6, .4]]), "b": np.array([[.4, .6], [.1, .9]])}
    >>> ensemble_selection(p, lambda q: float(np.mean(q.argmax(1) == y)), rounds=3)
    {'a': 1, 'b': 1}
    """
    names = list(probabilities_val)
    summed, counts, best = 0.0, dict.fromkeys(names, 0), (-np.inf, {})
    for picked in range(1, rounds + 1):
        trial = {n: score((summed + probabilities_val[n]) / picked) for n in names}
        chosen = max(names, key=trial.get)  # first of ties: the caller's order
        summed = summed + probabilities_val[chosen]
        counts[chosen] += 1
        if trial[chosen] > best[0]:
            best = (trial[chosen], {n: c for n, c in counts.items() if c})
    return best[1]


def probabilities(model, x: np.ndarray) -> np.ndarray:
    """Class probabilities of a Keras model (softmax added to logits), a tree or an
    :class:`Ensemble` of them."""
    from automl_kit.diagnose import predict_probabilities

    if isinstance(model, Ensemble):  # its members take the samples as they are (images too)
        return model.predict_proba(x)
    return predict_probabilities(model, np.asarray(x, np.float32))


def build_keras(spec: dict, input_shape: tuple, num_classes: int):
    """A freshly initialised Keras model for a keras ``spec``."""
    if "zoo" in spec:
        from automl_kit.zoo import build_model

        return build_model(spec["zoo"], input_shape, num_classes)
    from automl_kit.search import SearchSpace

    return SearchSpace.from_config(spec["space"]).build(spec["genes"], input_shape, num_classes)


def dense_default_spec() -> dict:
    from automl_kit.search import DenseSpace

    space = DenseSpace()
    return {
        "kind": "keras",
        "space": space.get_config(),
        "genes": space.encode(DENSE_DEFAULT),
    }


def seconds_per_epoch(model, x: np.ndarray, recipe) -> float:
    """Seconds one epoch of ``recipe`` takes for ``model`` on ``x``, from a few timed steps of a
    copy (the model's own weights do not move); validation and the input pipeline add ~20 %."""
    import keras

    probe = keras.models.clone_model(model)
    recipe.compile(probe, total_steps=10)
    batch = np.asarray(x[: recipe.batch_size], np.float32)
    labels = np.zeros(len(batch), np.int32)
    probe.train_on_batch(batch, labels)  # traces the step
    started = time.perf_counter()
    for _ in range(3):
        probe.train_on_batch(batch, labels)
    step = (time.perf_counter() - started) / 3
    return 1.2 * step * math.ceil(len(x) / recipe.batch_size)


def epochs_within(seconds: float, epoch_seconds: float, *, most: int, fewest: int = 1) -> int:
    """Whole epochs that fit in ``seconds`` (90 %: tracing and evaluation), within
    ``[fewest, most]``.

    >>> epochs_within(100, 9.0, most=30), epochs_within(5, 9.0, most=30)
    (10, 1)
    """
    return int(min(most, max(fewest, math.floor(0.9 * seconds / max(epoch_seconds, 1e-9)))))


def fit_keras(
    name: str,
    spec: dict,
    data,
    recipe,
    *,
    seconds: float,
    seed: int,
    most_epochs: int,
    epochs: int | None = None,
    sample_weight: np.ndarray | None = None,
    verbose: int = 0,
    checkpoints: Path | None = None,
) -> Trained:
    """Train ``spec`` from scratch on ``recipe`` with a full schedule of ``epochs`` (default: as
    many as fit in ``seconds``, at most ``most_epochs``); ``seconds`` also stops it mid-run.

    ``checkpoints``: a folder where every epoch is checkpointed; a fit found there (cut off by
    a kill or Ctrl-C) continues from its last epoch, with the epochs it was given."""
    import keras

    from automl_kit.training import StopAtSafePoint, read_checkpoint
    from automl_kit.utils import RunDirectory

    keras.utils.set_random_seed(seed)
    model = build_keras(spec, data.input_shape, data.num_classes)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        run, resume = None, False
        if checkpoints is not None:
            resume = Path(checkpoints, "run.json").is_file()
            run = stack.enter_context(RunDirectory.claim(checkpoints, "fit", resume=resume))
            saved = read_checkpoint(run) if resume else None
            if saved is not None:
                epochs = int(saved["config"]["epochs"])  # the schedule it started with
        if epochs is None:
            epochs = epochs_within(
                seconds, seconds_per_epoch(model, data.x_train, recipe), most=most_epochs
            )
        history = recipe.fit(
            model,
            data.x_train,
            data.y_train,
            validation_data=data.validation_data,
            epochs=epochs,
            seed=seed,
            sample_weight=sample_weight,
            time_budget=max(seconds, 1.0),
            callbacks=[StopAtSafePoint(name)],
            verbose=2 if verbose > 1 else 0,
            run=run,
            resume=resume,
        ).history
    return Trained(
        name,
        spec,
        model,
        recipe.kept_accuracy(model, history, data.validation_data),
        time.perf_counter() - started,
        epochs=epochs,
        extra={"epochs_run": len(history["val_accuracy"])},
    )


def fit_tree(
    name: str,
    data,
    *,
    seed: int,
    params: dict | None = None,
    sample_weight: np.ndarray | None = None,
    metric: str = "accuracy",
) -> Trained:
    """XGBoost with early stopping on the validation split: ``params`` as given, or the best of
    :data:`TREE_GRID` by validation ``metric`` (``"accuracy"`` or ``"roc_auc"``; ties: lower
    validation log-loss)."""
    from sklearn.metrics import roc_auc_score
    from xgboost import XGBClassifier

    x, y = _flat(data.x_train), data.y_train
    x_val, y_val = _flat(data.x_val), data.y_val
    started = time.perf_counter()
    best = None
    for grid_point in [params] if params else TREE_GRID:
        raise_if_stop_requested(f"before tree {grid_point}")
        settings = {"n_estimators": TREE_ROUNDS, **grid_point}
        settings.pop("best_rounds", None)
        model = XGBClassifier(
            **settings,
            early_stopping_rounds=TREE_PATIENCE,
            random_state=seed,
            n_jobs=1,
        )
        model.fit(x, y, sample_weight=sample_weight, eval_set=[(x_val, y_val)], verbose=False)
        p = model.predict_proba(x_val)
        score = (
            float(roc_auc_score(y_val, p[:, 1]))
            if metric == "roc_auc"
            else float(np.mean(p.argmax(1) == y_val)),
            -float(np.mean(-np.log(np.clip(p[np.arange(len(y_val)), y_val], 1e-12, 1)))),
        )
        if best is None or score > best[0]:
            best = (score, model, {**grid_point, "best_rounds": int(model.best_iteration) + 1}, p)
    _, model, chosen, p = best
    return Trained(
        name,
        {"kind": "tree", "params": chosen},
        model,
        float(np.mean(p.argmax(1) == y_val)),
        time.perf_counter() - started,
        extra={"grid": list(TREE_GRID) if not params else None},
    )


def _flat(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x.reshape(len(x), -1)
