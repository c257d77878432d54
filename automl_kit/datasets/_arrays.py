"""The user's own arrays: ``from_arrays`` and ``from_npz``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from automl_kit.datasets._build import TEST_FRACTION, Part, build
from automl_kit.datasets._dataset import Dataset
from automl_kit.datasets._npz import read_npz
from automl_kit.utils.validation import check_features, check_labels


def _features(x, name: str) -> np.ndarray:
    raw = np.asarray(x)
    if raw.ndim == 3:
        raw = raw[..., None]  # (N, H, W) greyscale images get their channel axis
    return check_features(raw, name=name, rank=(2, 4))


def _encode_labels(
    parts: dict[str, object], class_names: Sequence[str] | None
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Integer labels are kept (and checked later); text labels map to their sorted order
    (or to their position in ``class_names`` when given)."""
    arrays = {key: np.asarray(y) for key, y in parts.items() if y is not None}
    if any(a.dtype.kind in "OUS" for a in arrays.values()):
        flat = {key: np.ravel(a).astype(str) for key, a in arrays.items()}
        seen = np.unique(np.concatenate(list(flat.values())))
        names = seen.tolist() if class_names is None else [str(c) for c in class_names]
        unknown = np.setdiff1d(seen, names)
        if unknown.size:
            raise ValueError(
                f"labels {unknown[:5].tolist()} are not in class_names; add them to class_names."
            )
        lookup = {n: i for i, n in enumerate(names)}
        codes = {key: np.array([lookup[v] for v in a], np.int64) for key, a in flat.items()}
        return codes, tuple(names)
    checked = {key: check_labels(a, name=key) for key, a in arrays.items()}
    if class_names is None:
        k = max(int(a.max()) for a in checked.values()) + 1
        class_names = tuple(str(i) for i in range(k))
    return checked, tuple(str(c) for c in class_names)


def from_arrays(
    x_train,
    y_train,
    x_test=None,
    y_test=None,
    *,
    x_val=None,
    y_val=None,
    name: str = "arrays",
    class_names: Sequence[str] | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    groups=None,
    groups_val=None,
    groups_test=None,
    test_fraction: float = TEST_FRACTION,
    source: str = "arrays",
) -> Dataset:
    """Your own arrays as a :class:`Dataset`, split and checked as the built-in sets are.

    ``x``: images (N, H, W[, C]), channel-last, or tables (N, F); uint8 images are scaled to
    [0, 1] with a :class:`~automl_kit.utils.validation.DataWarning` saying so. ``y``: integer
    labels 0..K-1 with every class in training (clear errors otherwise) or text labels, mapped
    to 0..K-1 in sorted order (``class_names`` keeps them). Without a test set a stratified
    ``test_fraction`` of the training arrays becomes one (fixed seed 0; ``source`` says so);
    without a validation set one is drawn from the rest (``n_val``, default 10%). ``groups``
    (one id per training sample, e.g. a patient) keeps a group on one side of every split.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = from_arrays(rng.random((100, 4)), np.arange(100) % 2, name="toy")
    >>> data.kind, len(data.y_train), len(data.y_val), len(data.y_test)
    ('tabular', 72, 8, 20)
    """
    labels, names = _encode_labels(
        {"y_train": y_train, "y_val": y_val, "y_test": y_test}, class_names
    )
    if (x_val is None) != (y_val is None) or (x_test is None) != (y_test is None):
        raise ValueError(
            "pass x_val together with y_val, and x_test together with y_test "
            f"(got x_val {'set' if x_val is not None else 'None'}, y_val "
            f"{'set' if y_val is not None else 'None'}, x_test "
            f"{'set' if x_test is not None else 'None'}, y_test {'set' if y_test is not None else 'None'})."
        )
    parts = {}
    for split, x, groups_of in (
        ("train", x_train, groups),
        ("val", x_val, groups_val),
        ("test", x_test, groups_test),
    ):
        if x is None:
            if groups_of is not None:
                raise ValueError(f"groups for the {split} split need x_{split} and y_{split}.")
            continue
        features = _features(x, f"x_{split}")
        y = labels[f"y_{split}"]
        if len(y) != len(features):
            raise ValueError(
                f"y_{split} has {len(y)} labels but x_{split} has {len(features)} samples; "
                "they must have the same length."
            )
        if groups_of is not None:
            groups_of = np.asarray(groups_of)
            if groups_of.shape != (len(features),):
                raise ValueError(
                    f"groups{'' if split == 'train' else '_' + split} must hold one id per "
                    f"sample of x_{split} ({len(features)}); got shape {groups_of.shape}."
                )
        parts[split] = Part(features, y, None, groups_of)
    shape = parts["train"].x.shape[1:]
    for split, part in parts.items():
        if part.x.shape[1:] != shape:
            raise ValueError(
                f"x_{split} has samples of shape {part.x.shape[1:]} but x_train of {shape}; "
                "they must match."
            )
    return build(
        name,
        parts["train"],
        val=parts.get("val"),
        test=parts.get("test"),
        class_names=names,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
        source=source,
        test_fraction=test_fraction,
    )


NPZ_ARRAYS = ("x_val", "y_val", "x_test", "y_test", "class_names")
NPZ_GROUPS = ("groups_train", "groups_val", "groups_test")


def from_npz(path: str | os.PathLike, **kwargs) -> Dataset:
    """A :class:`Dataset` from an ``.npz`` file of arrays, read without unpickling.

    Arrays: ``x_train, y_train`` and optionally ``x_val, y_val``, ``x_test, y_test``,
    ``class_names`` (strings) and ``groups_train``/``groups_val``/``groups_test``; the rest
    is :func:`from_arrays` (``kwargs`` are its keywords: ``n_train``, ``n_val``, ``seed``, ...).
    A damaged file raises :class:`CorruptDataError` naming it.

    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
    >>> np.savez(path, x_train=np.random.default_rng(0).random((60, 3)), y_train=np.arange(60) % 3)
    >>> from_npz(path).num_classes
    3
    """
    path = Path(path)
    arrays = read_npz(
        path,
        required=("x_train", "y_train"),
        optional=(*NPZ_ARRAYS, *NPZ_GROUPS),
        fix="Replace it with a fresh copy, or re-save it with np.savez(path, x_train=..., "
        "y_train=..., x_test=..., y_test=...).",
    )
    for x_key, y_key in (("x_val", "y_val"), ("x_test", "y_test")):
        if (x_key in arrays) != (y_key in arrays):
            have, lack = (x_key, y_key) if x_key in arrays else (y_key, x_key)
            raise ValueError(f"{path} has {have} but no {lack}; save both or neither.")
    if "class_names" in arrays and "class_names" not in kwargs:
        kwargs["class_names"] = [str(c) for c in np.ravel(arrays["class_names"])]
    kwargs.setdefault("name", path.stem)
    kwargs.setdefault("source", str(path))
    return from_arrays(
        arrays["x_train"],
        arrays["y_train"],
        arrays.get("x_test"),
        arrays.get("y_test"),
        x_val=arrays.get("x_val"),
        y_val=arrays.get("y_val"),
        groups=arrays.get("groups_train"),
        groups_val=arrays.get("groups_val"),
        groups_test=arrays.get("groups_test"),
        **kwargs,
    )
