"""Machinery shared by every capability: validation, seeding, run directories, progress, I/O."""

from automl_kit.utils.budget import Budget, BudgetExhausted
from automl_kit.utils.comparison import Comparison
from automl_kit.utils.io import read_json, require_files, to_jsonable, write_csv, write_json
from automl_kit.utils.progress import Progress, format_seconds, parse_duration
from automl_kit.utils.rundir import (
    CorruptRunError,
    DiskFullError,
    RunDirectory,
    RunDirectoryError,
    RunLockedError,
    run_root,
)
from automl_kit.utils.seeding import seed_everything
from automl_kit.utils.validation import (
    DataWarning,
    check_classification_data,
    check_features,
    check_labels,
    check_scale,
    check_split_labels,
    check_training_data,
    check_validation_data,
)

__all__ = [
    "Budget",
    "BudgetExhausted",
    "Comparison",
    "CorruptRunError",
    "DiskFullError",
    "RunDirectoryError",
    "RunLockedError",
    "Progress",
    "RunDirectory",
    "check_classification_data",
    "check_features",
    "check_labels",
    "DataWarning",
    "check_scale",
    "check_split_labels",
    "check_training_data",
    "check_validation_data",
    "format_seconds",
    "parse_duration",
    "read_json",
    "require_files",
    "run_root",
    "seed_everything",
    "to_jsonable",
    "write_csv",
    "write_json",
]
