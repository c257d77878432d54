"""The data set registry and the public ``load``/``list_datasets`` functions."""

from __future__ import annotations

import os

import numpy as np

from automl_kit.datasets._dataset import Dataset, DatasetNotAvailableError
from automl_kit.datasets._diabetes import DiabetesSource
from automl_kit.datasets._sources import (
    CIFAR10_NAMES,
    DIGIT_NAMES,
    FASHION_NAMES,
    DigitsSource,
    NpzImageSource,
    Source,
)
from automl_kit.datasets._sources import data_dir as resolve_data_dir
from automl_kit.datasets._splits import select, split_pool
from automl_kit.utils.validation import check_classification_data

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        DigitsSource(),
        NpzImageSource(
            "mnist", DIGIT_NAMES, "MNIST handwritten digits, 28x28x1, 60k/10k", "mnist.npz"
        ),
        NpzImageSource(
            "fashion_mnist",
            FASHION_NAMES,
            "Fashion-MNIST articles, 28x28x1, 60k/10k",
            "fashion-mnist",
        ),
        NpzImageSource(
            "cifar10",
            CIFAR10_NAMES,
            "CIFAR-10 objects, 32x32x3 (shared file: 4k/1k subset)",
            "cifar-10-batches-py",
        ),
        DiabetesSource(),
    )
}


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"Unknown data set {name!r}; choose one of {sorted(SOURCES)}.")
    return SOURCES[name]


def load(
    name: str = "digits",
    *,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Dataset:
    """Load a data set as float32 features in [0, 1] with seeded train/val/test splits.

    Lookup: ``<data_dir or $AUTOML_KIT_DATA>/<name>.npz``, then ``keras.datasets`` (which
    downloads once and caches; ``download=False`` forbids it). Validation is a stratified
    draw from the training pool (default 10% of it), never from the test set; ``n_train``
    draws a class-balanced subset of the rest; ``n_test`` a stratified subset of the test set.

    >>> data = load("digits", n_train=500, seed=1)
    >>> data.x_train.shape, data.num_classes
    ((500, 8, 8, 1), 10)
    """
    source = _source(name)
    raw = source.read(resolve_data_dir(data_dir), download=download)
    k = len(source.class_names)
    x_pool, y_pool = check_classification_data(raw.x_pool, raw.y_pool, num_classes=k, name="x_pool")
    x_test, y_test = check_classification_data(raw.x_test, raw.y_test, num_classes=k, name="x_test")
    train_idx, val_idx = split_pool(y_pool, n_train=n_train, n_val=n_val, seed=seed)
    if n_test is not None:
        test_idx = np.sort(
            select(y_test, n_test, np.random.default_rng(seed), balanced=False, what="n_test")
        )
        x_test, y_test = x_test[test_idx], y_test[test_idx]
    return Dataset(
        name=name,
        x_train=x_pool[train_idx],
        y_train=y_pool[train_idx],
        x_val=x_pool[val_idx],
        y_val=y_pool[val_idx],
        x_test=x_test,
        y_test=y_test,
        class_names=source.class_names,
        source=raw.source,
        feature_names=raw.feature_names,
    )


def list_datasets(*, data_dir: str | os.PathLike | None = None, details: bool = True) -> list[dict]:
    """One row per data set: name, kind, where it is available offline, and (``details``) shapes and class counts.

    >>> [row["name"] for row in list_datasets(details=False)][:2]
    ['digits', 'mnist']
    """
    directory = resolve_data_dir(data_dir)
    rows = []
    for name, source in SOURCES.items():
        where = source.locate(directory)
        row = {
            "name": name,
            "kind": source.kind,
            "offline": where is not None,
            "location": where or source.fallback,
            "description": source.description,
        }
        if details and where is not None:
            try:
                data = load(name, data_dir=data_dir, download=False)
            except (DatasetNotAvailableError, ValueError) as exc:
                row["error"] = str(exc)
            else:
                summary = data.summary()
                row.update(
                    {
                        "input_shape": summary["input_shape"],
                        "n_pool": summary["n_train"] + summary["n_val"],
                        "n_test": summary["n_test"],
                        "class_counts_test": summary["class_counts_test"],
                    }
                )
        rows.append(row)
    return rows
