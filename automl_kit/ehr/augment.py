"""Training-set preparation for the rare positive class (Xiao, thesis Sec. 5.2.2, Alg. 4).

:func:`overlay_augment` synthesises positives by Eq. 5.2,
``I_aug[i, j] = min(1, I_pos[i, j] + Mask[i, j] * I_neg[i, j])`` with ``Mask[i, j] ~
Bernoulli(p)`` per pixel (the same mask for every channel): a positive patient's whole
history plus part of a negative's is still positive. :func:`drop_confusing` removes the ``n``
training examples a base model finds most confusing (Alg. 4, step 4).

>>> import numpy as np
>>> pos, neg = np.full((2, 2, 2, 1), 0.6), np.full((3, 2, 2, 1), 0.7)
>>> aug = overlay_augment(pos, neg, n=4, p=1.0, seed=0)
>>> aug.shape, float(aug.min()), float(aug.max())
((4, 2, 2, 1), 1.0, 1.0)
"""

from __future__ import annotations

import numpy as np


def _images(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 4:
        raise ValueError(f"{name} must be images (N, height, width, channels), got {arr.shape}.")
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"{name} must hold values in [0, 1] (EHRImageMapper.transform gives them)."
        )
    return arr


def overlay_augment(
    positives: np.ndarray, negatives: np.ndarray, *, n: int, p: float = 0.5, seed: int = 0
) -> np.ndarray:
    """``n`` synthetic positive images by Eq. 5.2: a random positive overlaid with a random
    negative through a Bernoulli(``p``) pixel mask; values stay in [0, 1] and every pixel is at
    least the positive's."""
    pos, neg = _images(positives, "positives"), _images(negatives, "negatives")
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n (how many images to make) must be a whole number >= 0, got {n!r}.")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is the mask's Bernoulli probability in [0, 1], got {p}.")
    if n and (not len(pos) or not len(neg)):
        raise ValueError(
            f"overlay needs at least one positive and one negative image, got {len(pos)} and "
            f"{len(neg)}."
        )
    if pos.shape[1:] != neg.shape[1:]:
        raise ValueError(
            f"positives {pos.shape[1:]} and negatives {neg.shape[1:]} differ in shape."
        )
    rng = np.random.default_rng(seed)
    i, j = rng.integers(len(pos), size=n), rng.integers(len(neg), size=n)
    mask = rng.random((n, *pos.shape[1:3], 1)) < p
    return np.minimum(1.0, pos[i] + mask * neg[j]).astype(np.float32)


def drop_confusing(y: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """Indices to keep after dropping the ``n`` most confusing examples (Alg. 4, step 4).

    Confusion is ``|y - score|`` for base-model scores of the positive class (out-of-fold ones,
    so that the base model has not memorised them): high-scoring negatives and low-scoring
    positives go first. Ties keep the earlier example. At least one example of each class is
    kept.

    >>> drop_confusing(np.array([0, 0, 1, 1]), np.array([0.1, 0.9, 0.8, 0.2]), 2).tolist()
    [0, 2]
    """
    y, scores = np.asarray(y).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != scores.shape:
        raise ValueError(f"y ({y.shape}) and scores ({scores.shape}) must have one entry each.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 0/1 labels.")
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a whole number >= 0, got {n!r}.")
    order = np.argsort(-np.abs(y - scores), kind="stable")
    dropped = []
    left = np.bincount(y.astype(int), minlength=2)
    for i in order:
        if len(dropped) >= n:
            break
        if left[int(y[i])] > 1:
            dropped.append(i)
            left[int(y[i])] -= 1
    keep = np.ones(len(y), dtype=bool)
    keep[dropped] = False
    return np.flatnonzero(keep)


__all__ = ["drop_confusing", "overlay_augment"]
