"""Offline-first data sets and the user's own data, all as one :class:`Dataset`.

``load(name, n_train=..., n_val=..., seed=...)`` for the built-in sets (``DATASETS``),
``from_arrays``, ``from_npz``, ``from_directory`` (class-per-folder images) and
``from_table`` (CSV/Parquet) for your own, and ``load_data(name_or_path)`` for either.

>>> from automl_kit import datasets
>>> data = datasets.load("digits", n_train=300, n_val=100, seed=0)
"""

from automl_kit.datasets._arrays import from_arrays, from_npz
from automl_kit.datasets._dataset import CorruptDataError, Dataset, DatasetNotAvailableError
from automl_kit.datasets._directory import from_directory
from automl_kit.datasets._registry import (
    DATASETS,
    data_dir_problem,
    list_datasets,
    load,
    load_data,
)
from automl_kit.datasets._sources import DATA_ENV
from automl_kit.datasets._table import from_table

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "CorruptDataError",
    "Dataset",
    "DatasetNotAvailableError",
    "data_dir_problem",
    "from_arrays",
    "from_directory",
    "from_npz",
    "from_table",
    "list_datasets",
    "load",
    "load_data",
]
