"""automl_kit: a Keras 3 / TensorFlow toolkit that makes deep models more accurate and cheaper to train.

Public names are imported lazily, so ``import automl_kit`` does not load TensorFlow
until a capability that needs it is used.

>>> import automl_kit as ak
>>> data = ak.datasets.load("digits", n_train=500)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# TensorFlow's C++ start-up log stays out of the user's terminal when automl_kit imports it
# (also in workers the CLI or library spawns), unless they set TF_CPP_MIN_LOG_LEVEL themselves,
# imported TensorFlow first, or ask for it with AUTOML_KIT_TF_LOGS=1. TensorFlow is not imported.
from automl_kit.utils.logs import quiet_library_import

quiet_library_import()

# public name -> module that defines it
_EXPORTS = {
    "PartialDense": "automl_kit.capacity",
    "PartialConv2D": "automl_kit.capacity",
    "GrowthController": "automl_kit.capacity",
    "ClassGraphHead": "automl_kit.knowledge",
    "KnowledgeMask": "automl_kit.knowledge",
    "add_class_similarity_head": "automl_kit.knowledge",
    "misclassification_graph": "automl_kit.knowledge",
    "Dataset": "automl_kit.datasets",
    "load_dataset": "automl_kit.datasets",
    "list_datasets": "automl_kit.datasets",
    "load_data": "automl_kit.datasets",
    "EHRTables": "automl_kit.datasets",
    "check_ehr_tables": "automl_kit.datasets",
    "ehr_cohort": "automl_kit.datasets",
    "seed_everything": "automl_kit.utils",
    "RunDirectory": "automl_kit.utils",
    "check_classification_data": "automl_kit.utils",
    "GCNConv": "automl_kit._compat",
    "VariableLengthGA": "automl_kit.search",
    "CNNSpace": "automl_kit.search",
    "DenseSpace": "automl_kit.search",
    "StageSpace": "automl_kit.search",
    "FreezingTrainer": "automl_kit.freezing",
    "FreezingCallback": "automl_kit.freezing",
    "IntelligentFreezing": "automl_kit.freezing",
    "build_model": "automl_kit.zoo",
    "TrainSteps": "automl_kit.training",
    "per_class_report": "automl_kit.utils.metrics",
    "EHRImageMapper": "automl_kit.ehr",
    "CNNBoostedClassifier": "automl_kit.ehr",
    "AutoResult": "automl_kit.auto",
}
_ALIASES = {"load_dataset": "load"}
_SUBPACKAGES = (
    "datasets",
    "utils",
    "search",
    "freezing",
    "zoo",
    "training",
    "diagnose",
    "tweak",
    "capacity",
    "knowledge",
    "ehr",
    "auto",  # also callable: automl_kit.auto(data, time_budget="20m") runs automl_kit.auto.auto
)

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES])


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"automl_kit.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), _ALIASES.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'automl_kit' has no attribute {name!r}")


def __dir__():
    return __all__
