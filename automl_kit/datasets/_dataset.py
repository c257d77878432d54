"""The container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DatasetNotAvailableError(FileNotFoundError):
    """A data set can be neither read offline nor downloaded; the message says what to place where."""


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits as float32 features and int64 labels (channel-last images)."""

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
            "source": self.source,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            **{f"n_{s}": int(len(getattr(self, f"y_{s}"))) for s in ("train", "val", "test")},
            **{f"class_counts_{s}": self.class_counts(s) for s in ("train", "val", "test")},
        }

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"test={len(self.y_test)}, input_shape={self.input_shape}, num_classes={self.num_classes})"
        )
