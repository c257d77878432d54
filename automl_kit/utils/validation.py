"""Input checks shared by every capability.

Each check raises ``ValueError`` that names the problem and the fix, so bad data
never reaches a training loop where it would fail obscurely or train silently wrong.
"""

from __future__ import annotations

import numpy as np


def check_features(x, *, name: str = "x", rank: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``x`` as a finite, non-empty float32 array of the expected rank.

    ``rank`` counts the sample axis: images are rank 4 (N, H, W, C), tables rank 2.

    >>> check_features(np.zeros((2, 8, 8, 1)), rank=4).dtype
    dtype('float32')
    """
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric array-like; could not convert it: {exc}") from exc
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one sample.")
    allowed = (rank,) if isinstance(rank, int) else rank
    if allowed is not None and arr.ndim not in allowed:
        hint = ""
        if 4 in allowed and arr.ndim == 3:
            hint = f" For single-channel images add a channel axis: {name}[..., None]."
        elif 2 in allowed and arr.ndim > 2:
            hint = f" Flatten the features: {name}.reshape(len({name}), -1)."
        raise ValueError(
            f"{name} must have rank {' or '.join(map(str, allowed))} (samples first); "
            f"got shape {arr.shape}.{hint}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN/inf value(s), first at index {first}; "
            "impute or drop them before training."
        )
    return arr


def check_labels(
    y, *, n_samples: int | None = None, num_classes: int | None = None, name: str = "y"
) -> np.ndarray:
    """Return ``y`` as int64 class indices in ``0..num_classes-1``.

    >>> check_labels([0, 2, 1], num_classes=3)
    array([0, 2, 1])
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        raise ValueError(
            f"{name} must be integer class labels of shape (n,); got shape {arr.shape}. "
            f"If it is one-hot encoded, pass {name}.argmax(axis=1)."
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one label.")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} labels but the features have {n_samples} samples; "
            "they must have the same length."
        )
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN/inf labels; drop or fix those samples.")
        if not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} holds non-integer values; class labels must be integers 0..K-1."
            )
    elif arr.dtype.kind not in "iub":
        raise ValueError(
            f"{name} must hold integer class labels, got dtype {arr.dtype}; "
            "encode string labels first, e.g. with sklearn.preprocessing.LabelEncoder."
        )
    arr = arr.astype(np.int64)
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or (num_classes is not None and high >= num_classes):
        limit = f"0..{num_classes - 1}" if num_classes is not None else "0..K-1"
        raise ValueError(
            f"{name} has labels in {low}..{high}, outside {limit}; "
            "remap them to consecutive integers starting at 0."
        )
    return arr


def check_classification_data(
    x,
    y,
    *,
    num_classes: int | None = None,
    rank: int | tuple[int, ...] | None = None,
    name: str = "x",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a feature/label pair; see :func:`check_features` and :func:`check_labels`.

    >>> x, y = check_classification_data(np.ones((3, 4)), [0, 1, 0], num_classes=2, rank=2)
    """
    arr = check_features(x, name=name, rank=rank)
    label_name = "y" if name == "x" else name.replace("x", "y", 1)
    labels = check_labels(y, n_samples=arr.shape[0], num_classes=num_classes, name=label_name)
    return arr, labels
