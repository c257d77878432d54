"""Offline-first data sets: ``load(name, n_train=..., n_val=..., seed=...)`` and ``list_datasets()``.

>>> from automl_kit import datasets
>>> data = datasets.load("digits", n_train=300, n_val=100, seed=0)
"""

from automl_kit.datasets._dataset import Dataset, DatasetNotAvailableError
from automl_kit.datasets._registry import SOURCES, list_datasets, load
from automl_kit.datasets._sources import DATA_ENV

__all__ = ["DATA_ENV", "SOURCES", "Dataset", "DatasetNotAvailableError", "list_datasets", "load"]
