"""Python API users do not see TensorFlow's C++ start-up log; their own choices are kept."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from automl_kit.utils.logs import is_tensorflow_noise

ROOT = Path(__file__).resolve().parents[2]

# what TensorFlow 2.21 prints on a CPU machine while it is imported and first used
PATTERNS = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations",
    "cudart_stub",
    "cpu_feature_guard",
    "failed call to cuInit",
)
# the user's program: the library imports TensorFlow (here through training/ and search/) and
# trains a tiny model, which also touches the device (cuInit) after the import
PROGRAM = """
import sys
import automl_kit as ak
assert "tensorflow" not in sys.modules, "import automl_kit imported TensorFlow"
from automl_kit.search import VariableLengthGA
from automl_kit.training import TrainSteps
import keras, numpy as np
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile("sgd", "sparse_categorical_crossentropy")
model.fit(np.zeros((8, 4)), np.zeros(8), epochs=1, verbose=0)
print("trained", file=sys.stderr)
"""


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter whose environment has none of the log settings."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "AUTOML_KIT_TF_LOGS", "AUTOML_KIT_QUIET_TF")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(p in line for p in PATTERNS)]


@pytest.mark.processes
def test_the_python_api_keeps_tensorflow_start_up_lines_out_of_stderr():
    done = python(PROGRAM)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained" in done.stderr  # stderr itself still reaches the user
    assert noise(done.stderr) == []
    # every line TensorFlow printed but we let through is not one of its notices
    assert not any(is_tensorflow_noise(line) for line in done.stderr.splitlines())


@pytest.mark.processes
@pytest.mark.parametrize("setting", [{"AUTOML_KIT_TF_LOGS": "1"}, {"TF_CPP_MIN_LOG_LEVEL": "0"}])
def test_the_user_can_ask_for_tensorflow_logs(setting):
    """With the opt-out or their own log level, we hide nothing (this TF prints its notices)."""
    done = python(PROGRAM, **setting)
    assert done.returncode == 0, done.stderr[-3000:]
    assert noise(done.stderr), "TensorFlow printed no start-up notice here to compare with"


def test_real_errors_and_tracebacks_still_reach_the_user():
    done = python(
        "import automl_kit, sys\n"
        "from automl_kit.training import TrainSteps\n"
        "print('a warning of ours', file=sys.stderr)\n"
        "raise RuntimeError('the user sees this')\n"
    )
    assert done.returncode == 1
    assert "a warning of ours" in done.stderr
    assert "Traceback" in done.stderr and "RuntimeError: the user sees this" in done.stderr
    assert noise(done.stderr) == []


def test_an_import_error_raised_while_tensorflow_loads_is_not_swallowed():
    """Python output written during the filtered import is replayed, not dropped."""
    done = python(
        "import automl_kit, sys, warnings\n"
        "import tensorflow as tf\n"
        "print('tf', tf.__version__, file=sys.stderr)\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tf 2." in done.stderr and noise(done.stderr) == []


def test_settings_of_a_user_who_imported_tensorflow_first_are_kept():
    done = python(
        "import os, sys, tensorflow\n"
        "import automl_kit\n"
        "from automl_kit.utils.logs import _QuietTensorFlowImport\n"
        "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), os.environ.get('AUTOML_KIT_QUIET_TF'),\n"
        "      any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path))\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["None", "None", "False"]


def test_import_automl_kit_sets_the_level_for_workers_without_importing_tensorflow():
    done = python(
        "import os, sys, automl_kit\n"
        "print('tensorflow' in sys.modules, os.environ['TF_CPP_MIN_LOG_LEVEL'],\n"
        "      os.environ['AUTOML_KIT_QUIET_TF'])\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "3", "1"]
    # the user's own level is theirs: not overwritten, nothing marked for workers
    done = python(
        "import os, automl_kit\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ.get('AUTOML_KIT_QUIET_TF'))\n",
        TF_CPP_MIN_LOG_LEVEL="1",
    )
    assert done.stdout.split() == ["1", "None"]
