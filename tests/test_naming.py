"""The naming table of docs/architecture.md, checked against every public signature.

Each concept has one name: a parameter of a public function, class or method that uses one of
the synonyms below fails here, naming the table's word for it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

SUBPACKAGES = (
    "search",
    "freezing",
    "capacity",
    "knowledge",
    "ehr",
    "tweak",
    "diagnose",
    "training",
    "datasets",
    "zoo",
    "utils",
)

# synonym -> the table's name (docs/architecture.md, "Names")
SYNONYMS = {
    "lr": "learning_rate",
    "learning_rate_init": "learning_rate",
    "lr_factor": "learning_rate_factor",
    "n_epochs": "epochs",
    "num_epochs": "epochs",
    "nb_epoch": "epochs",
    "max_epochs": "epochs",
    "timeout": "time_budget",
    "time_limit": "time_budget",
    "max_time": "time_budget",
    "random_state": "seed",
    "random_seed": "seed",
    "verbosity": "verbose",
    "quiet": "verbose",
    "out_dir": "run_dir",
    "output_dir": "run_dir",
    "outdir": "run_dir",
    "log_dir": "run_dir",
    "save_dir": "run_dir",
    "n_classes": "num_classes",
    "nb_classes": "num_classes",
    "val_data": "validation_data",
    "x_valid": "x_val",
    "y_valid": "y_val",
    "bs": "batch_size",
    "batchsize": "batch_size",
    "freeze_batchnorm": "frozen_batchnorm (how frozen BN layers run) or train_batchnorm",
    "max_evals": "max_evaluations",
    "n_trials": "max_evaluations",
    "max_trials": "max_evaluations",
    "n_jobs": "workers",
    "num_workers": "workers",
    "use_bn": "normalize",
    "use_batchnorm": "normalize",
    "example_weight": "sample_weight",
    "sample_weights": "sample_weight",
    "tolerance": "max_drop",
}
# (where, parameter): kept on purpose
EXEMPT = {
    ("search.Searcher.__init__", "quiet"): "deprecated alias of verbose=0; warns",
    # diagnose's tolerance is the bias/variance threshold, not an accuracy a change may cost
    ("diagnose.Diagnosis.__init__", "tolerance"): "another concept than max_drop",
    ("diagnose.decompose_errors", "tolerance"): "another concept than max_drop",
    ("diagnose.diagnose", "tolerance"): "another concept than max_drop",
}


def _callables():
    """(where, callable) for every public function, class and method of the subpackages."""
    for package in SUBPACKAGES:
        module = importlib.import_module(f"automl_kit.{package}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                if not obj.__module__.startswith("automl_kit"):
                    continue  # re-exported from elsewhere
                yield f"{package}.{name}.__init__", obj.__init__
                for attribute, member in vars(obj).items():
                    if isinstance(member, (classmethod, staticmethod)):
                        member = member.__func__
                    if not attribute.startswith("_") and inspect.isfunction(member):
                        yield f"{package}.{name}.{attribute}", member
            elif inspect.isfunction(obj) and obj.__module__.startswith("automl_kit"):
                yield f"{package}.{name}", obj


def violations(items) -> list[str]:
    """``where(parameter): call it <name>`` for each synonym among the parameters of ``items``."""
    wrong = []
    for where, function in items:
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            continue
        wrong += [
            f"{where}({parameter}): call it {SYNONYMS[parameter]}"
            for parameter in parameters
            if parameter in SYNONYMS and (where, parameter) not in EXEMPT
        ]
    return wrong


def test_public_signatures_use_the_naming_table():
    wrong = violations(_callables())
    assert not wrong, "names outside docs/architecture.md's table:\n" + "\n".join(wrong)


def test_the_scan_reports_a_synonym():
    def fit(model, lr=0.1, n_classes=10, seed=0):
        return model

    assert violations([("fake.fit", fit)]) == [
        "fake.fit(lr): call it learning_rate",
        "fake.fit(n_classes): call it num_classes",
    ]


def test_the_table_in_the_docs_lists_every_name_checked_here():
    page = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    table = page[page.index("## Names") :]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    missing = sorted({name.split(" ")[0] for name in SYNONYMS.values()} - documented)
    assert not missing, f"docs/architecture.md's naming table lacks {missing}"
    assert not sorted(set(SYNONYMS) - documented), "list each synonym beside its name"
