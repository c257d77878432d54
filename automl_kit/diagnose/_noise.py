"""Suspected mislabeled training examples, by confident learning (cleanlab) on out-of-fold
predicted probabilities, and what to do with them: drop or re-weight (``sample_weight``).

The decks (seed 002/003) tell to "filter out all misclassified examples and correct or remove
those which are mislabeled" and to use "strengthening factors" per example; cleanlab's
``find_label_issues`` (Northcutt et al., confident learning) does the filtering from
out-of-fold probabilities, so that no example is judged by a model trained on it.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl_kit.registries import LABEL_MODEL_NAMES as LABEL_MODELS
from automl_kit.utils.interrupt import raise_if_stop_requested

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
)


def flip_labels(
    y: Sequence[int] | np.ndarray,
    fraction: float,
    *,
    num_classes: int | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Deliberately corrupt ``fraction`` of the labels; returns ``(noisy_y, flipped_mask)``.

    Uniform (``pairs=None``): a flipped label becomes another class drawn uniformly. Between
    confusable pairs (e.g. ``[(4, 9), (3, 5)]``): only samples of a paired class are flipped,
    each to its partner, ``fraction`` of the whole set in all.

    >>> noisy, flipped = flip_labels([0, 1, 2, 3] * 25, 0.1, seed=0)
    >>> int(flipped.sum()), bool((noisy[flipped] != (np.arange(100) % 4)[flipped]).all())
    (10, True)
    """
    y = np.asarray(y, dtype=np.int64)
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), e.g. 0.1 for 10% flips, got {fraction}.")
    k = int(num_classes if num_classes is not None else y.max() + 1)
    rng = np.random.default_rng(seed)
    n_flip = int(round(fraction * len(y)))
    noisy, mask = y.copy(), np.zeros(len(y), bool)
    if pairs is None:
        chosen = rng.choice(len(y), n_flip, replace=False)
        shift = rng.integers(1, k, n_flip)  # 1..k-1: never the same class
        noisy[chosen] = (y[chosen] + shift) % k
    else:
        partner = {}
        for a, b in pairs:
            if a == b or a in partner or b in partner:
                raise ValueError(
                    f"pairs must be disjoint pairs of different classes, got {list(pairs)}."
                )
            partner[int(a)], partner[int(b)] = int(b), int(a)
        eligible = np.flatnonzero(np.isin(y, list(partner)))
        if n_flip > len(eligible):
            raise ValueError(
                f"{n_flip} flips asked but only {len(eligible)} samples belong to the paired "
                "classes; lower fraction or add pairs."
            )
        chosen = rng.choice(eligible, n_flip, replace=False)
        noisy[chosen] = [partner[int(c)] for c in y[chosen]]
    mask[chosen] = True
    return noisy, mask


def out_of_fold_probabilities(
    x: np.ndarray,
    y: np.ndarray,
    model: Any = None,
    *,
    cv: int = 5,
    seed: int = 0,
    epochs: int = 10,
    batch_size: int = 64,
    num_classes: int | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Predicted probabilities of each sample from a model that never saw it (stratified K-fold).

    ``model``: ``"logistic"`` (the default, ``None``: logistic regression on the flattened
    features); ``"cnn"`` (the textbook CNN, ``zoo.textbook_cnn``, trained ``epochs`` per fold
    on the shared recipe with its last weights kept: images only); ``"auto"`` (the CNN for
    images, logistic regression otherwise); a scikit-learn classifier (``predict_proba``,
    through ``cross_val_predict``); or a function ``seed -> compiled Keras model`` trained
    ``epochs`` per fold. ``verbose`` prints a line per fold.

    >>> x, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    >>> out_of_fold_probabilities(x, y, cv=2).shape
    (40, 2)
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.asarray(x)
    y = np.asarray(y, dtype=np.int64)
    k = int(num_classes if num_classes is not None else y.max() + 1)
    counts = np.bincount(y, minlength=k)
    if cv < 2:
        raise ValueError(f"cv must be at least 2 folds, got {cv}.")
    if counts.min() < cv:
        raise ValueError(
            f"class {int(counts.argmin())} has {int(counts.min())} samples, fewer than cv={cv} "
            "folds; lower cv or give more samples of every class."
        )
    if isinstance(model, str) and model not in LABEL_MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(LABEL_MODELS)}.")
    model = _named_model(model, x)
    if model == "cnn" and x.ndim != 4:
        raise ValueError(
            f"model='cnn' takes images (samples, height, width, channels), got shape {x.shape}; "
            "use model='logistic' for tables."
        )
    folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
    if model == "logistic" or hasattr(model, "predict_proba"):
        if model == "logistic":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(max_iter=500, C=1.0)
        flat = x.reshape(len(x), -1)
        return cross_val_predict(model, flat, y, cv=folds, method="predict_proba")
    if not (model == "cnn" or callable(model)):
        raise ValueError(
            "model must be 'logistic', 'cnn', a scikit-learn classifier with predict_proba or a "
            "function seed -> compiled Keras model."
        )
    import keras

    from automl_kit.diagnose._evaluate import predict_probabilities

    probabilities = np.zeros((len(y), k))
    for fold, (train, held) in enumerate(folds.split(np.zeros(len(y)), y)):
        raise_if_stop_requested(f"before fold {fold + 1}")  # Ctrl-C: between folds
        start = time.perf_counter()
        keras.utils.set_random_seed(seed + fold)  # same seed, same folds and weights on CPU
        if model == "cnn":
            from automl_kit.training import Recipe
            from automl_kit.zoo import build_model

            net = build_model("textbook_cnn", x.shape[1:], k)
            # no validation split to pick an epoch by: the schedule's last weights
            Recipe(batch_size=batch_size, keep="last").fit(
                net, x[train], y[train], validation_data=None, epochs=epochs, seed=seed + fold
            )
        else:
            net = model(seed + fold)
            net.fit(x[train], y[train], epochs=epochs, batch_size=batch_size, verbose=0)
        probabilities[held] = predict_probabilities(net, x[held])
        if verbose:
            print(
                f"  out-of-fold {fold + 1}/{cv}: trained on {len(train)}, predicted {len(held)} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return probabilities


def _named_model(model: Any, x: np.ndarray) -> Any:
    """``None`` is logistic regression; ``"auto"`` the CNN for images (4-D ``x``), else
    logistic regression; anything else is returned as given."""
    if model is None:
        return "logistic"
    if isinstance(model, str) and model == "auto":
        return "cnn" if np.ndim(x) == 4 else "logistic"
    return model


@dataclass
class LabelIssues:
    """Suspected label errors of a training set, most suspect first.

    ``positions`` index the arrays given; ``rows`` are the source rows (``Dataset.index_train``).
    """

    positions: np.ndarray
    rows: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray  # out-of-fold probability of the given label (cleanlab self-confidence)
    n: int
    class_names: tuple[str, ...]
    filter_by: str
    # how the out-of-fold probabilities were made: model, folds, epochs, seconds ("given": passed in)
    cost: dict | None = None

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def mask(self) -> np.ndarray:
        """Boolean mask over the training set: True where a label is suspect."""
        mask = np.zeros(self.n, bool)
        mask[self.positions] = True
        return mask

    def sample_weight(self, mode: str = "reweight", min_weight: float = 0.0) -> np.ndarray:
        """Per-example weights for Keras ``fit(..., sample_weight=...)``.

        ``"drop"``: 0 for suspects, 1 otherwise. ``"reweight"``: suspects weigh the
        out-of-fold probability of their given label (at least ``min_weight``), so the
        plainly wrong ones count least and the borderline ones still count.
        """
        if mode not in ("drop", "reweight"):
            raise ValueError(f"unknown mode {mode!r}; choose one of: drop, reweight.")
        weight = np.ones(self.n, dtype=np.float32)
        if mode == "drop":
            weight[self.positions] = 0.0
        else:
            weight[self.positions] = np.clip(self.quality, min_weight, 1.0)
        return weight

    def precision_recall(self, truly_wrong: np.ndarray) -> dict[str, float]:
        """Detection precision/recall against a known mask of corrupted labels."""
        truly_wrong = np.asarray(truly_wrong, bool)
        if truly_wrong.shape != (self.n,):
            raise ValueError(
                f"truly_wrong must be a mask of {self.n} samples, got {truly_wrong.shape}."
            )
        found = self.mask
        hits = int((found & truly_wrong).sum())
        return {
            "found": int(found.sum()),
            "flipped": int(truly_wrong.sum()),
            "precision": float(hits / found.sum()) if found.any() else 0.0,
            "recall": float(hits / truly_wrong.sum()) if truly_wrong.any() else 0.0,
        }

    def precision_at_recall(self, truly_wrong: np.ndarray, recall: float = 0.6) -> float | None:
        """Precision of the shortest most-suspect-first prefix of the issues that reaches
        ``recall`` of the known corrupted labels; None when all the issues together do not."""
        truly_wrong = np.asarray(truly_wrong, bool)
        if truly_wrong.shape != (self.n,) or not truly_wrong.any():
            raise ValueError(f"truly_wrong must be a mask of {self.n} samples with a True in it.")
        hits = np.cumsum(truly_wrong[self.positions])
        reached = np.flatnonzero(hits >= recall * truly_wrong.sum())
        if len(reached) == 0:
            return None
        m = int(reached[0]) + 1
        return float(hits[m - 1] / m)

    def table(self) -> list[dict]:
        names = self.class_names
        return [
            {
                "row": int(r),
                "position": int(p),
                "given": names[g] if names else int(g),
                "suggested": names[s] if names else int(s),
                "given_label_probability": round(float(q), 6),
            }
            for p, r, g, s, q in zip(
                self.positions, self.rows, self.given, self.suggested, self.quality
            )
        ]

    def summary(self) -> dict:
        return {
            "n": self.n,
            "suspects": len(self),
            "fraction": len(self) / self.n if self.n else 0.0,
            "filter_by": self.filter_by,
            "probabilities": self.cost,
            "top": self.table()[:20],
        }

    def save(self, run_dir: str | os.PathLike) -> Path:
        """``label_issues.csv`` (one row per suspect, most suspect first) in ``run_dir``."""
        root = Path(run_dir)
        root.mkdir(parents=True, exist_ok=True)
        path = root / "label_issues.csv"
        fields = ["row", "position", "given", "suggested", "given_label_probability"]
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.table())
        return path


def find_label_issues(
    data: Any,
    probabilities: np.ndarray | None = None,
    *,
    model: Any = None,
    cv: int = 5,
    seed: int = 0,
    filter_by: str = "prune_by_noise_rate",
    epochs: int = 10,
    batch_size: int = 64,
    verbose: int = 0,
) -> LabelIssues:
    """Suspected mislabeled training examples (cleanlab ``filter.find_label_issues``).

    ``data``: a :class:`~automl_kit.datasets.Dataset` (its training split; rows named by
    ``index_train``) or a pair ``(x, y)``. ``probabilities``: out-of-fold predicted
    probabilities if you have them; otherwise they are computed by
    :func:`out_of_fold_probabilities` with ``model`` (default: logistic regression).

    >>> from automl_kit import datasets
    >>> data = datasets.load("digits", n_train=600, n_val=100, seed=0)
    >>> noisy, flipped = flip_labels(data.y_train, 0.1, seed=0)
    >>> issues = find_label_issues((data.x_train, noisy), seed=0)  # doctest: +SKIP
    >>> issues.precision_recall(flipped)["precision"] > 0.5  # doctest: +SKIP
    True
    """
    from cleanlab.filter import find_label_issues as cleanlab_find
    from cleanlab.rank import get_label_quality_scores

    from automl_kit.datasets import Dataset

    if filter_by not in FILTERS:
        raise ValueError(f"unknown filter_by {filter_by!r}; choose one of: {', '.join(FILTERS)}.")
    if isinstance(data, Dataset):
        x, y, rows, names = data.x_train, data.y_train, data.index_train, tuple(data.class_names)
        k = data.num_classes
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y):
            raise ValueError(
                f"x has {len(x)} samples and y {len(y)} labels; pass one label per sample."
            )
        rows, names, k = np.arange(len(y)), (), int(np.max(y)) + 1
    else:
        raise ValueError(f"data must be a Dataset or a pair (x, y), got {type(data).__name__}.")
    y = np.asarray(y, dtype=np.int64)
    cost = {"model": "given"}
    if probabilities is None:
        model = _named_model(model, x)
        start = time.perf_counter()
        probabilities = out_of_fold_probabilities(
            x,
            y,
            model,
            cv=cv,
            seed=seed,
            epochs=epochs,
            batch_size=batch_size,
            num_classes=k,
            verbose=verbose,
        )
        keras_trained = model == "cnn" or not (
            model == "logistic" or hasattr(model, "predict_proba")
        )
        cost = {
            "model": model if isinstance(model, str) else type(model).__name__,
            "folds": cv,
            "epochs": epochs if keras_trained else None,
            "seconds": round(time.perf_counter() - start, 2),
        }
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(y), k):
        raise ValueError(
            f"probabilities must have shape ({len(y)}, {k}) (samples, classes), got "
            f"{probabilities.shape}; pass out-of-fold predict_proba output."
        )
    positions = cleanlab_find(
        y, probabilities, filter_by=filter_by, return_indices_ranked_by="self_confidence"
    )
    quality = get_label_quality_scores(y, probabilities, method="self_confidence")
    positions = np.asarray(positions, dtype=np.int64)
    return LabelIssues(
        positions=positions,
        rows=np.asarray(rows)[positions],
        given=y[positions],
        suggested=probabilities[positions].argmax(axis=1),
        quality=quality[positions],
        n=len(y),
        class_names=names,
        filter_by=filter_by,
        cost=cost,
    )
