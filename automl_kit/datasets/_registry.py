"""The data set registry and the public ``load``/``list_datasets``/``load_data`` functions."""

from __future__ import annotations

import os
from pathlib import Path

from automl_kit.datasets._build import Part, build
from automl_kit.datasets._dataset import Dataset, DatasetNotAvailableError
from automl_kit.datasets._diabetes import DiabetesSource
from automl_kit.datasets._sources import (
    CIFAR10_NAMES,
    DIGIT_NAMES,
    FASHION_NAMES,
    DigitsSource,
    NpzImageSource,
    Source,
    missing_data_dir,
)
from automl_kit.datasets._sources import data_dir as resolve_data_dir
from automl_kit.utils.registry import Registry
from automl_kit.utils.validation import check_classification_data

#: name -> :class:`Source` of every built-in data set.
DATASETS = Registry("data set")
for _source in (
    DigitsSource(),
    NpzImageSource("mnist", DIGIT_NAMES, "MNIST handwritten digits, 28x28x1, 60k/10k", "mnist.npz"),
    NpzImageSource(
        "fashion_mnist", FASHION_NAMES, "Fashion-MNIST articles, 28x28x1, 60k/10k", "fashion-mnist"
    ),
    NpzImageSource(
        "cifar10",
        CIFAR10_NAMES,
        "CIFAR-10 objects, 32x32x3 (shared file: 4k/1k subset)",
        "cifar-10-batches-py",
    ),
    DiabetesSource(),
):
    DATASETS.register(_source.name, _source)
del _source

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


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
    """Load a built-in data set as float32 features in [0, 1] with seeded train/val/test splits.

    Lookup: ``<data_dir or $AUTOML_KIT_DATA>/<name>.npz``, then ``keras.datasets`` (which
    downloads once and caches; ``download=False`` forbids it). Validation is a stratified
    draw from the training pool (default 10% of it; whole patients for ``diabetes_130us``),
    never from the test set; ``n_train`` draws a class-balanced subset of the rest; ``n_test``
    a stratified subset of the test set. ``index_*`` keep each sample's row in the source.

    >>> data = load("digits", n_train=500, seed=1)
    >>> data.x_train.shape, data.num_classes, data.kind
    ((500, 8, 8, 1), 10, 'image')
    """
    source: Source = DATASETS.get(name)
    raw = source.read(resolve_data_dir(data_dir), download=download)
    k = len(source.class_names)
    x_pool, y_pool = check_classification_data(raw.x_pool, raw.y_pool, num_classes=k, name="x_pool")
    x_test, y_test = check_classification_data(raw.x_test, raw.y_test, num_classes=k, name="x_test")
    return build(
        name,
        Part(x_pool, y_pool, raw.index_pool, raw.groups_pool),
        test=Part(x_test, y_test, raw.index_test, raw.groups_test),
        class_names=source.class_names,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
        source=raw.source,
        feature_names=raw.feature_names,
    )


def load_data(
    spec: str | os.PathLike,
    *,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    label: str | None = None,
) -> Dataset:
    """A built-in data set by name, or the user's own data by path; the CLI's ``--data``.

    Paths: an ``.npz`` file (:func:`from_npz`), a folder of class folders
    (:func:`from_directory`), or a ``.csv``/``.tsv``/``.parquet`` table (:func:`from_table`,
    needs ``label=``, the class column). Sizes and seed mean what they mean in :func:`load`.

    >>> load_data("digits", n_train=100).summary()["n_train"]
    100
    """
    common = {"n_train": n_train, "n_val": n_val, "n_test": n_test, "seed": seed}
    spec_text = os.fspath(spec)
    if spec_text in DATASETS:
        if label is not None:
            raise ValueError(
                f"label={label!r} applies to tables only; {spec_text!r} is a built-in data set."
            )
        return load(spec_text, **common)
    path = Path(spec_text).expanduser()
    name = path.name.lower()
    if not path.exists():
        if path.suffix or os.sep in spec_text or "/" in spec_text:
            raise DatasetNotAvailableError(
                f"{path} does not exist; pass the path of an .npz file, an image folder or a "
                f"table ({', '.join(TABLE_SUFFIXES)}), or one of: {', '.join(DATASETS.names())}."
            )
        raise ValueError(
            f"unknown data set {spec_text!r}; choose one of: {', '.join(DATASETS.names())}, "
            "or pass the path of an .npz file, an image folder or a .csv/.parquet table."
        )
    if path.is_dir():
        from automl_kit.datasets._directory import from_directory

        _no_label(label, path)
        return from_directory(path, **common)
    if name.endswith(".npz"):
        from automl_kit.datasets._arrays import from_npz

        _no_label(label, path)
        return from_npz(path, **common)
    if any(name.endswith(s) or name.endswith(s + ".gz") for s in TABLE_SUFFIXES):
        from automl_kit.datasets._table import from_table

        if label is None:
            raise ValueError(
                f"{path} is a table: say which column holds the class with label='<column>' "
                "(on the command line: --label <column>)."
            )
        return from_table(path, label=label, **common)
    raise ValueError(
        f"cannot tell what kind of data {path} holds from its name; use an .npz file, a folder "
        f"of class folders, or a table ending in {', '.join(TABLE_SUFFIXES)}."
    )


def _no_label(label: str | None, path: Path) -> None:
    if label is not None:
        raise ValueError(f"label={label!r} applies to tables only; {path} is not a table.")


def list_datasets(*, data_dir: str | os.PathLike | None = None, details: bool = True) -> list[dict]:
    """One row per data set: name, kind, where it is available offline, and (``details``) shapes and class counts.

    A file that cannot be read gets ``"status": "broken"`` and an ``"error"`` instead of
    shapes; the others are still listed.

    >>> [row["name"] for row in list_datasets(details=False)][:3]
    ['cifar10', 'diabetes_130us', 'digits']
    """
    directory = resolve_data_dir(data_dir)
    if missing_data_dir(directory) is not None:
        directory = None  # reported once by the caller, not as a missing file per set
    rows = []
    for name in DATASETS.names():
        source: Source = DATASETS.get(name)
        where = source.locate(directory)
        row = {
            "name": name,
            "kind": source.kind,
            "offline": where is not None,
            "status": "available" if where is not None else "missing",
            "location": where or source.fallback,
            "description": source.description,
        }
        if details and where is not None:
            try:
                data = load(name, data_dir=directory, download=False)
            except (DatasetNotAvailableError, ValueError, OSError) as exc:
                row["status"] = "broken"
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


def data_dir_problem(data_dir: str | os.PathLike | None = None) -> str | None:
    """A sentence if the data folder (``data_dir`` or ``$AUTOML_KIT_DATA``) is set but missing."""
    return missing_data_dir(resolve_data_dir(data_dir))


__all__ = ["DATASETS", "data_dir_problem", "list_datasets", "load", "load_data"]
