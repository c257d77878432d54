"""Per-class classification metrics every capability can use (NumPy + scikit-learn, no TensorFlow).

:func:`per_class_report` gathers what the lecture deck "Performance Improvement and
Hyperparameter Optimization of Deep Neural Networks" (seed 002) uses to judge a classifier:
the confusion matrix, precision/recall/F1 per class (F1 = 2 / (P^-1 + R^-1)), accuracy,
macro/weighted averages, the harmonic mean of per-class scores (the deck's way of ranking
classifiers on all classes at once, its table of classifiers A-F) and the most confused pairs.

>>> report = per_class_report([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], class_names=["a", "b", "c"])
>>> round(report.accuracy, 4), report.recall.tolist()
(0.6667, [0.5, 1.0, 0.5])
>>> report.top_confusions(1)
[{'true': 'a', 'predicted': 'b', 'count': 1, 'fraction_of_true': 0.5}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def harmonic_mean(scores: Sequence[float]) -> float:
    """The harmonic mean ``n / sum(1/s)`` of scores in [0, 1]; 0 when any score is 0.

    The deck ranks classifiers by the harmonic mean of their per-class accuracies: a weak class
    pulls it down more than it pulls down the arithmetic mean.

    >>> round(harmonic_mean([0.97, 0.98, 0.95, 0.97]), 4)  # deck's classifier E: 96.74%
    0.9674
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("harmonic_mean needs at least one score; pass the per-class scores.")
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"scores must be finite and >= 0, got {values.tolist()}.")
    if np.any(values == 0):
        return 0.0
    return float(values.size / np.sum(1.0 / values))


def rank_by_harmonic_mean(per_class_scores: dict[str, Sequence[float]]) -> list[tuple[str, float]]:
    """``{classifier: per-class scores}`` -> ``[(classifier, harmonic mean), ...]``, best first.

    >>> rank_by_harmonic_mean({"A": [0.9, 0.9], "B": [1.0, 0.8]})[0][0]
    'A'
    """
    if not per_class_scores:
        raise ValueError("rank_by_harmonic_mean needs at least one classifier.")
    ranked = [(name, harmonic_mean(scores)) for name, scores in per_class_scores.items()]
    return sorted(ranked, key=lambda item: -item[1])


@dataclass(frozen=True)
class ClassReport:
    """The result of :func:`per_class_report`; ``summary()`` gives it as JSON-able values."""

    class_names: tuple[str, ...]
    confusion: np.ndarray  # confusion[i, j]: samples of true class i predicted as j
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.n, 1))

    @property
    def error(self) -> float:
        return 1.0 - self.accuracy

    def macro(self, metric: str) -> float:
        """Unweighted mean of ``precision``/``recall``/``f1`` over the classes present."""
        values = getattr(self, _metric(metric))
        present = self.support > 0
        return float(np.mean(values[present])) if present.any() else 0.0

    def weighted(self, metric: str) -> float:
        """Mean of ``precision``/``recall``/``f1`` weighted by each class's support."""
        values = getattr(self, _metric(metric))
        return float(np.average(values, weights=self.support)) if self.n else 0.0

    def harmonic(self, metric: str = "recall") -> float:
        """Harmonic mean over the classes present of a per-class metric (default: per-class
        accuracy = recall, as in the deck's classifier table)."""
        values = getattr(self, _metric(metric))
        return harmonic_mean(values[self.support > 0])

    def top_confusions(self, k: int = 5) -> list[dict]:
        """The ``k`` largest off-diagonal cells: which true class is taken for which, how often."""
        off = self.confusion.astype(np.int64).copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(-off, axis=None, kind="stable")
        pairs = []
        for flat in order[: max(int(k), 0)]:
            i, j = np.unravel_index(flat, off.shape)
            if off[i, j] == 0:
                break
            pairs.append(
                {
                    "true": self.class_names[i],
                    "predicted": self.class_names[j],
                    "count": int(off[i, j]),
                    "fraction_of_true": float(off[i, j] / self.support[i]),
                }
            )
        return pairs

    @classmethod
    def from_summary(cls, summary: dict) -> ClassReport:
        """The report :meth:`summary` describes (as read back from JSON)."""
        rows = summary["per_class"]
        return cls(
            class_names=tuple(summary["class_names"]),
            confusion=np.asarray(summary["confusion_matrix"], dtype=np.int64),
            precision=np.array([r["precision"] for r in rows], dtype=np.float64),
            recall=np.array([r["recall"] for r in rows], dtype=np.float64),
            f1=np.array([r["f1"] for r in rows], dtype=np.float64),
            support=np.array([r["support"] for r in rows], dtype=np.int64),
        )

    def summary(self) -> dict:
        per_class = [
            {
                "class": name,
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "support": int(self.support[i]),
            }
            for i, name in enumerate(self.class_names)
        ]
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "error": self.error,
            "macro": {m: self.macro(m) for m in ("precision", "recall", "f1")},
            "weighted": {m: self.weighted(m) for m in ("precision", "recall", "f1")},
            "harmonic_mean_recall": self.harmonic("recall"),
            "harmonic_mean_f1": self.harmonic("f1"),
            "per_class": per_class,
            "confusion_matrix": self.confusion.astype(int).tolist(),
            "class_names": list(self.class_names),
            "top_confusions": self.top_confusions(),
        }


def _metric(name: str) -> str:
    if name not in ("precision", "recall", "f1"):
        raise ValueError(f"unknown metric {name!r}; choose one of: precision, recall, f1.")
    return name


def per_class_report(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    class_names: Sequence[str] | None = None,
) -> ClassReport:
    """Confusion matrix and precision/recall/F1 per class (scikit-learn), with averages.

    ``y_true``/``y_pred`` are integer class indices (predicted probabilities: take ``argmax``
    first); ``class_names`` fixes the number of classes (default: ``max label + 1``). A class
    nobody predicts gets precision 0 (scikit-learn's ``zero_division=0``), not an error.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} labels and y_pred {len(y_pred)}; pass one prediction per sample."
        )
    if len(y_true) == 0:
        raise ValueError("per_class_report needs at least one sample.")
    top = int(max(y_true.max(), y_pred.max())) + 1
    if class_names is None:
        class_names = [str(i) for i in range(top)]
    class_names = tuple(str(c) for c in class_names)
    if top > len(class_names):
        raise ValueError(
            f"labels go up to {top - 1} but only {len(class_names)} class names were given; "
            "pass one name per class."
        )
    labels = np.arange(len(class_names))
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return ClassReport(class_names, confusion, precision, recall, f1, support)


def _labels(y, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of class indices, got shape {arr.shape}; "
            "for probabilities pass probs.argmax(axis=1)."
        )
    if arr.size and (not np.all(np.isfinite(arr.astype(np.float64))) or np.any(arr % 1 != 0)):
        raise ValueError(f"{name} must hold integer class indices.")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} holds negative labels; class indices start at 0.")
    return arr.astype(np.int64)


def precision_at_k(y_true, scores, k: int) -> float:
    """Share of positives among the ``k`` highest-scored samples (Xiao, thesis Sec. 5.3.2).

    Ties at the cut are broken by sample order (a stable sort of the negated scores), so the
    result is reproducible; ``k`` larger than the number of samples is an error.

    >>> precision_at_k([0, 1, 1, 0, 1], [0.1, 0.9, 0.3, 0.8, 0.7], 3)
    0.6666666666666666
    """
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true ({y.size}) and scores ({s.size}) must have one entry per sample.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 labels (1 = positive).")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite; replace NaN/inf scores first.")
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= y.size:
        raise ValueError(
            f"k must be a whole number in [1, {y.size}] (the samples scored), got {k!r}."
        )
    top = np.argsort(-s, kind="stable")[: int(k)]
    return float(y[top].mean())
