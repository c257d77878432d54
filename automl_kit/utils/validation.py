"""Input checks shared by every capability.

Each check raises ``ValueError`` that names the problem and the fix, so bad data
never reaches a training loop where it would fail obscurely or train silently wrong.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

#: Tabular features larger than this (in absolute value) get a :class:`DataWarning`.
LARGE_FEATURE = 1e3


class DataWarning(UserWarning):
    """Data that trains, but probably not as meant (scale, dtype); the message says what was done.

    Silence it with ``warnings.filterwarnings("ignore", category=DataWarning)``.
    """


def check_features(
    x,
    *,
    name: str = "x",
    rank: int | tuple[int, ...] | None = None,
    scale: bool = True,
    feature_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Return ``x`` as a finite, non-empty float32 array of the expected rank.

    ``rank`` counts the sample axis: images are rank 3 or more (N, H, W[, C]), tables rank 2.
    With ``scale`` (the default) :func:`check_scale` runs too: uint8 images are divided by 255
    (with a :class:`DataWarning` saying so), and odd value ranges get a warning.

    >>> check_features(np.zeros((2, 8, 8, 1)), rank=4).dtype
    dtype('float32')
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DataWarning)
    ...     float(check_features(np.full((1, 2, 2, 1), 255, np.uint8)).max())
    1.0
    """
    raw_dtype = getattr(x, "dtype", None)
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
    if scale:
        arr = check_scale(
            arr, name=name, was_uint8=raw_dtype == np.uint8, feature_names=feature_names
        )
    return arr


def check_scale(
    x: np.ndarray,
    *,
    name: str = "x",
    was_uint8: bool = False,
    feature_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Scale uint8 images to [0, 1] and warn about value ranges that train badly.

    Images (rank >= 3): ``was_uint8`` with values above 1 -> divided by 255, with a
    :class:`DataWarning` (the model then expects [0, 1] inputs, so scale test images alike);
    float values outside [0, 1] -> a warning. Tables (rank 2): a feature with ``|x| > 1e3``
    -> a warning suggesting standardisation, naming the columns by ``feature_names`` when
    given (else by index). Returns ``x`` (scaled or not) as float32.

    >>> check_scale(np.array([[0.5, 2.0]], np.float32)).tolist()
    [[0.5, 2.0]]
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.size == 0:
        return arr
    if arr.ndim >= 3:
        low, high = float(arr.min()), float(arr.max())
        if was_uint8 and high > 1.0:
            warnings.warn(
                f"{name}: uint8 images (0..255) scaled to [0, 1] by dividing by 255; scale "
                "any images you give the trained model yourself the same way.",
                DataWarning,
                stacklevel=3,
            )
            return arr / np.float32(255.0)
        if low < 0.0 or high > 1.0:
            hint = " (0..255 pixels: divide by 255)" if high > 1.0 and low >= 0.0 else ""
            warnings.warn(
                f"{name}: image values span [{low:.4g}, {high:.4g}], outside [0, 1]; the "
                f"toolkit's models and defaults assume [0, 1]{hint}. Ignore this if you "
                "normalised the images on purpose.",
                DataWarning,
                stacklevel=3,
            )
    elif arr.ndim == 2:
        largest = np.abs(arr).max(axis=0)
        wild = np.flatnonzero(largest > LARGE_FEATURE)
        if wild.size:
            labels = [
                str(feature_names[i]) if feature_names is not None else str(int(i))
                for i in wild[:5]
            ]
            shown = ", ".join(labels) + (", ..." if wild.size > 5 else "")
            warnings.warn(
                f"{name}: {wild.size} feature column(s) reach |x| = {float(largest.max()):.3g} "
                f"(columns {shown}); training is unstable on "
                "wildly scaled features: standardise them, e.g. with "
                "sklearn.preprocessing.StandardScaler fitted on the training set.",
                DataWarning,
                stacklevel=3,
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
            f"{name} holds {arr.dtype} labels (e.g. {arr[:3].tolist()}); class labels must be "
            f"integers 0..K-1: map them with `classes, {name} = np.unique({name}, "
            "return_inverse=True)` (classes[i] is the name of class i) or "
            "sklearn.preprocessing.LabelEncoder."
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


def _label_text(label: int, class_names: Sequence[str] | None) -> str:
    if (
        class_names is not None
        and 0 <= label < len(class_names)
        and class_names[label] != str(label)
    ):
        return f"{label} ({class_names[label]!r})"
    return str(label)


def check_split_labels(
    y_train,
    y_val=None,
    *,
    y_test=None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
) -> int:
    """Check that labels are 0..K-1 with every class in training; return K.

    Catches what would otherwise train silently with a wrong softmax: labels starting at 1,
    a class seen only in validation (or test), gaps, and a single class. ``num_classes``
    (e.g. a model's output size) fixes K; otherwise K is the largest label + 1.

    >>> check_split_labels([0, 1, 2, 1], [2, 0])
    3
    >>> check_split_labels([1, 2, 3], [1, 3])
    Traceback (most recent call last):
    ...
    ValueError: labels are 1..3 with no class 0; class labels must start at 0: subtract 1 (y - 1) from y_train and y_val.
    """
    parts = {"y_train": check_labels(y_train, num_classes=num_classes, name="y_train")}
    if y_val is not None:
        parts["y_val"] = check_labels(y_val, num_classes=num_classes, name="y_val")
    if y_test is not None:
        parts["y_test"] = check_labels(y_test, num_classes=num_classes, name="y_test")
    seen = {key: np.unique(values) for key, values in parts.items()}
    union = np.unique(np.concatenate(list(seen.values())))
    k = int(num_classes) if num_classes is not None else int(union.max()) + 1
    if union.size < 2:
        raise ValueError(
            f"y_train holds a single class ({_label_text(int(union[0]), class_names)}); a "
            "classifier needs at least two classes: check the label column and any filtering."
        )
    if union.min() >= 1 and np.array_equal(union, np.arange(union.min(), union.max() + 1)):
        start = int(union.min())
        fix = "subtract 1 (y - 1)" if start == 1 else f"subtract {start}"
        raise ValueError(
            f"labels are {start}..{int(union.max())} with no class 0; class labels must start "
            f"at 0: {fix} from {' and '.join(parts)}."
        )
    train = seen["y_train"]
    for key, values in seen.items():
        extra = np.setdiff1d(values, train)
        if key != "y_train" and extra.size:
            which = ", ".join(_label_text(int(c), class_names) for c in extra[:5])
            many = f" (and {extra.size - 5} more)" if extra.size > 5 else ""
            plural = "classes" if extra.size > 1 else "class"
            raise ValueError(
                f"{plural} {which}{many} appear{'s' if extra.size == 1 else ''} in {key} but not in "
                f"y_train; every class needs training samples: add training samples of it, or "
                f"drop those samples from {key} and remap the labels to 0..K-1."
            )
    missing = np.setdiff1d(np.arange(k), train)
    if missing.size:
        which = ", ".join(_label_text(int(c), class_names) for c in missing[:10])
        many = f" (and {missing.size - 10} more)" if missing.size > 10 else ""
        raise ValueError(
            f"{'classes' if missing.size > 1 else 'class'} {which}{many} of 0..{k - 1} "
            f"{'have' if missing.size > 1 else 'has'} no samples in y_train; labels must be "
            "consecutive integers 0..K-1 with every class in training: remap them, e.g. "
            "np.unique(y, return_inverse=True)[1], or add training samples of those classes."
        )
    return k


def check_validation_data(validation_data) -> tuple:
    """Return ``(x_val, y_val)`` from ``validation_data``, or say what is missing.

    >>> x_val, y_val = check_validation_data((np.zeros((2, 3)), [0, 1]))
    >>> check_validation_data(None)
    Traceback (most recent call last):
    ...
    ValueError: validation_data is required: pass validation_data=(x_val, y_val), e.g. data.validation_data of automl_kit.datasets.load(...), or hold out part of your training set.
    """
    if validation_data is None:
        raise ValueError(
            "validation_data is required: pass validation_data=(x_val, y_val), e.g. "
            "data.validation_data of automl_kit.datasets.load(...), or hold out part of your "
            "training set."
        )
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        got = (
            f"a {type(validation_data).__name__} of length {len(validation_data)}"
            if isinstance(validation_data, (tuple, list))
            else f"a {type(validation_data).__name__}"
        )
        raise ValueError(
            f"validation_data must be a pair (x_val, y_val); got {got}. "
            "Sample weights and tf.data datasets are not accepted here."
        )
    return validation_data[0], validation_data[1]


def check_training_data(
    x,
    y,
    validation_data=None,
    *,
    rank: int | tuple[int, ...] | None = None,
    num_classes: int | None = None,
    require_validation: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Check a training set and its validation set together; return ``(x, y, x_val, y_val)``.

    Runs :func:`check_classification_data` on both, checks that samples have the same shape,
    and :func:`check_split_labels` (labels 0..K-1, every class in training). Without
    ``validation_data``: an error if ``require_validation``, else ``x_val, y_val = None, None``.

    >>> x, y, x_val, y_val = check_training_data(
    ...     np.zeros((4, 3)), [0, 1, 0, 1], (np.zeros((2, 3)), [1, 0]), rank=2
    ... )
    >>> x.shape, x_val.shape
    ((4, 3), (2, 3))
    """
    x_arr, y_arr = check_classification_data(x, y, num_classes=num_classes, rank=rank)
    if validation_data is None and not require_validation:
        check_split_labels(y_arr, num_classes=num_classes)
        return x_arr, y_arr, None, None
    x_val, y_val = check_validation_data(validation_data)
    x_val, y_val = check_classification_data(
        x_val, y_val, num_classes=num_classes, rank=rank, name="x_val"
    )
    if x_arr.shape[1:] != x_val.shape[1:]:
        raise ValueError(
            f"x has samples of shape {x_arr.shape[1:]} but x_val of {x_val.shape[1:]}; they must match."
        )
    check_split_labels(y_arr, y_val, num_classes=num_classes)
    return x_arr, y_arr, x_val, y_val
