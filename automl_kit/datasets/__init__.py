"""Offline-first data sets and the user's own data, all as one :class:`Dataset`.

``load(name, n_train=..., n_val=..., seed=...)`` for the built-in sets (``DATASETS``),
``from_arrays``, ``from_npz``, ``from_directory`` (class-per-folder images) and
``from_table`` (CSV/Parquet) for your own, and ``load_data(name_or_path)`` for either.
EHR/claims cohorts as event and patient tables: ``check_ehr_tables`` (your own) -> ``EHRTables``,
``ehr_cohort`` (simulated) and ``diabetes_events`` (UCI Diabetes 130-US).

>>> from automl_kit import datasets
>>> data = datasets.load("digits", n_train=300, n_val=100, seed=0)
"""

from automl_kit.datasets._arrays import from_arrays, from_npz
from automl_kit.datasets._dataset import CorruptDataError, Dataset, DatasetNotAvailableError
from automl_kit.datasets._diabetes_events import diabetes_events
from automl_kit.datasets._directory import from_directory
from automl_kit.datasets._ehr_cohort import ehr_cohort
from automl_kit.datasets._ehr_tables import EHRTables, check_ehr_tables, ehr_example
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
    "EHRTables",
    "check_ehr_tables",
    "data_dir_problem",
    "diabetes_events",
    "ehr_cohort",
    "ehr_example",
    "from_arrays",
    "from_directory",
    "from_npz",
    "from_table",
    "list_datasets",
    "load",
    "load_data",
]
