"""The container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLITS = ("train", "val", "test")


class DatasetNotAvailableError(FileNotFoundError):
    """A data set can be neither read offline nor downloaded; the message says what to place where."""


class CorruptDataError(DatasetNotAvailableError, ValueError):
    """A data file exists but cannot be read (truncated, damaged, another format); the message
    names the file and how to replace it. Caught by ``except ValueError`` too."""


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits as float32 features and int64 labels (channel-last images).

    ``index_<split>[i]`` is the row sample ``i`` came from in the source (``source`` says which):
    for arrays and ``.npz`` files the row of the array it was read from (``x_train`` for the
    training pool and a validation set drawn from it, ``x_val``/``x_test`` for sets given as
    such); for tables the 0-based data row of the file or frame; for an image folder the
    position in ``files``; for the built-in sets the row in the original file. Subsets and
    splits keep them, so a report can name rows. ``groups_<split>`` (optional) holds each
    sample's group (e.g. the diabetes patient); splits never share a group.

    >>> import numpy as np
    >>> data = Dataset("toy", np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]),
    ...                np.zeros((2, 2), np.float32), np.array([0, 1]),
    ...                np.zeros((2, 2), np.float32), np.array([1, 0]), ("a", "b"))
    >>> data.kind, data.index_val.tolist()
    ('tabular', [0, 1])
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""
    feature_names: tuple[str, ...] | None = field(default=None, repr=False)
    index_train: np.ndarray | None = field(default=None, repr=False)
    index_val: np.ndarray | None = field(default=None, repr=False)
    index_test: np.ndarray | None = field(default=None, repr=False)
    groups_train: np.ndarray | None = field(default=None, repr=False)
    groups_val: np.ndarray | None = field(default=None, repr=False)
    groups_test: np.ndarray | None = field(default=None, repr=False)
    files: tuple[str, ...] | None = field(default=None, repr=False)

    def __post_init__(self):
        for split in SPLITS:
            n = len(getattr(self, f"y_{split}"))
            index = getattr(self, f"index_{split}")
            # Without a source row index, a sample's row is its position in the given arrays.
            index = np.arange(n, dtype=np.int64) if index is None else np.asarray(index, np.int64)
            if len(index) != n:
                raise ValueError(f"index_{split} has {len(index)} entries for {n} samples.")
            object.__setattr__(self, f"index_{split}", index)
            groups = getattr(self, f"groups_{split}")
            if groups is not None and len(groups) != n:
                raise ValueError(f"groups_{split} has {len(groups)} entries for {n} samples.")

    @property
    def kind(self) -> str:
        """``"image"`` for samples of rank >= 2 (H, W[, C]), ``"tabular"`` for feature vectors."""
        return "image" if self.x_train.ndim >= 3 else "tabular"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def validation_data(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_val, y_val)``, ready for Keras' ``validation_data=``."""
        return self.x_val, self.y_val

    def class_counts(self, split: str = "train") -> list[int]:
        y = getattr(self, f"y_{split}")
        return np.bincount(y, minlength=self.num_classes).tolist()

    def summary(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "grouped": self.groups_train is not None,
            **{f"n_{s}": int(len(getattr(self, f"y_{s}"))) for s in SPLITS},
            **{f"class_counts_{s}": self.class_counts(s) for s in SPLITS},
        }

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, kind={self.kind!r}, train={len(self.y_train)}, "
            f"val={len(self.y_val)}, test={len(self.y_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )
