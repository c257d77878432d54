"""Where each data set comes from and how its raw arrays become float32 features.

A source returns a fixed *pool* (for training and validation) and a fixed *test* set;
``load`` then draws the seeded subsets. Adding a data set means adding one source here
(or one module for a complex one, like ``_diabetes.py``) and registering it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl_kit.datasets._dataset import DatasetNotAvailableError
from automl_kit.datasets._npz import read_npz

DATA_ENV = "AUTOML_KIT_DATA"


def data_dir(override: str | os.PathLike | None = None) -> Path | None:
    """The offline data folder: ``override`` if given, else ``$AUTOML_KIT_DATA``, else None."""
    value = override if override is not None else os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None


def missing_data_dir(directory: Path | None) -> str | None:
    """A sentence if ``directory`` is given but is not a folder, else None."""
    if directory is None or directory.is_dir():
        return None
    what = "is a file, not a folder" if directory.exists() else "does not exist"
    return f"the data folder {directory} (from --data-dir or ${DATA_ENV}) {what}"


@dataclass(frozen=True)
class RawData:
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    feature_names: tuple[str, ...] | None = None
    # Row of each sample in the original file/array (None: its position); groups keep
    # related samples (a patient's encounters) on one side of every split.
    index_pool: np.ndarray | None = None
    index_test: np.ndarray | None = None
    groups_pool: np.ndarray | None = None
    groups_test: np.ndarray | None = None


class Source:
    """Base class: subclasses set the class attributes and implement ``locate``/``read``."""

    name: str
    kind: str  # "image" or "tabular"
    class_names: tuple[str, ...]
    description: str
    fallback: str = "missing: see the error of load() for where to place it"

    def locate(self, directory: Path | None) -> str | None:
        """Where ``read`` would get the data without a network, or None."""
        raise NotImplementedError

    def read(self, directory: Path | None, *, download: bool) -> RawData:
        raise NotImplementedError


def _images(x: np.ndarray, scale: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32) / scale
    return x[..., None] if x.ndim == 3 else x


class DigitsSource(Source):
    """scikit-learn's bundled 8x8 digits: offline everywhere, the toolkit's default."""

    name = "digits"
    kind = "image"
    class_names = tuple(str(i) for i in range(10))
    description = "scikit-learn 8x8 handwritten digits (1,797 images), bundled offline"
    test_fraction = 0.2

    def locate(self, directory):
        return "bundled with scikit-learn"

    def read(self, directory, *, download):
        from sklearn.datasets import load_digits

        from automl_kit.datasets._splits import select

        bunch = load_digits()
        x = _images(bunch.images, 16.0)
        y = bunch.target.astype(np.int64)
        # A fixed test split (seed 0), so every seed and every method is scored on the same images.
        test = select(
            y, int(round(self.test_fraction * len(y))), np.random.default_rng(0), balanced=False
        )
        pool = np.setdiff1d(np.arange(len(y)), test)
        return RawData(
            x[pool],
            y[pool],
            x[test],
            y[test],
            self.locate(directory),
            index_pool=pool,
            index_test=test,
        )


class NpzImageSource(Source):
    """An image set read from ``$AUTOML_KIT_DATA/<name>.npz``, else from ``keras.datasets``."""

    kind = "image"
    fallback = "downloads via keras.datasets on first use"

    def __init__(
        self, name: str, class_names: tuple[str, ...], description: str, keras_cache_name: str
    ):
        self.name = name
        self.class_names = class_names
        self.description = description
        self.keras_cache_name = keras_cache_name

    def _file(self, directory: Path | None) -> Path | None:
        if directory is not None and (directory / f"{self.name}.npz").is_file():
            return directory / f"{self.name}.npz"
        return None

    def _keras_cache(self) -> Path | None:
        cache = (
            Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
            / "datasets"
            / self.keras_cache_name
        )
        return cache if cache.exists() else None

    def locate(self, directory):
        if (path := self._file(directory)) is not None:
            return str(path)
        if (cache := self._keras_cache()) is not None:
            return f"keras cache {cache}"
        return None

    def read(self, directory, *, download):
        path = self._file(directory)
        if path is not None:
            keys = ("x_train", "y_train", "x_test", "y_test")
            fix = (
                f"Replace it with a fresh copy of {self.name}.npz (uint8 arrays {', '.join(keys)}), "
                f"or delete it to have keras.datasets download the set."
            )
            arrays = read_npz(path, required=keys, fix=fix)
            parts = [arrays[k] for k in keys]
            source = str(path)
        elif download or self._keras_cache() is not None:
            parts = self._from_keras(directory)
            source = f"keras.datasets.{self.name}"
        else:
            raise DatasetNotAvailableError(
                self._missing_message(directory, "downloading is disabled (download=False)")
            )
        x_train, y_train, x_test, y_test = parts
        return RawData(
            _images(x_train, 255.0),
            np.ravel(y_train).astype(np.int64),
            _images(x_test, 255.0),
            np.ravel(y_test).astype(np.int64),
            source,
        )

    def _from_keras(self, directory):
        import keras

        try:
            (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, self.name).load_data()
        except Exception as exc:  # any network or cache failure ends in the same advice
            raise DatasetNotAvailableError(
                self._missing_message(directory, f"the keras.datasets download failed: {exc}")
            ) from exc
        return x_train, y_train, x_test, y_test

    def _missing_message(self, directory, why: str) -> str:
        where = f"{directory}" if directory is not None else f"a folder and set {DATA_ENV} to it"
        if (problem := missing_data_dir(directory)) is not None:
            why = f"{why}, and {problem}"
        return (
            f"Data set '{self.name}' is not available offline and {why}. "
            f"Place {self.name}.npz (uint8 arrays x_train, y_train, x_test, y_test) in {where}, "
            f"e.g. `export {DATA_ENV}=/path/to/data`."
        )


DIGIT_NAMES = tuple(str(i) for i in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
