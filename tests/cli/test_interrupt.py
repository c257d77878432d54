"""A stop inside ``tweak`` and ``diagnose`` is honoured at their safe points (issue 23).

Every command's real Ctrl-C and SIGKILL, then ``--resume``, run in ``test_lifecycle.py`` (a CI
step of its own); here the stop is requested from inside (``request_stop``, what the first
SIGINT does) at a chosen safe point, in process, so the default run checks it too.
"""

from __future__ import annotations

import json
import sys

import keras
import pytest

from automl_kit.cli import main
from automl_kit.utils import interrupt


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("model") / "m.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    "command, module, function",
    [
        ("tweak", "automl_kit.tweak.tables", "check_features"),
        ("diagnose", "automl_kit.diagnose._evaluate", "predict_probabilities"),
    ],
)
def test_a_stop_inside_tweak_and_diagnose_is_honoured_and_resume_completes(
    command, module, function, digits_model, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    target = sys.modules.get(module) or __import__(module, fromlist=[function])
    original = getattr(target, function)

    def first_call_stops(*args, **kwargs):
        interrupt.request_stop()  # as the first Ctrl-C does
        monkeypatch.setattr(target, function, original)
        return original(*args, **kwargs)

    argv = [command, "--model", str(digits_model), "--dataset", "digits"]
    argv += ["--target", "1"] if command == "tweak" else []
    monkeypatch.setattr(target, function, first_call_stops)
    assert main([*argv, "--out", str(out), "--quiet"]) == 130
    assert f"stopped; resume with: automl-kit {command} --resume {out}" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    # the saved model path is absolute: --resume alone finds it from another directory
    monkeypatch.chdir(tmp_path)
    assert main([command, "--resume", str(out), "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert (out / "results.json").is_file()
