"""One Ctrl-C stops every command, and ``--resume`` completes the run (issue 23).

``pkgcn`` and ``ehr`` train long enough to be stopped by a real SIGINT in a fresh process;
``tweak`` and ``diagnose`` finish in a second on small data, so their safe points are reached
with the stop requested from inside (``request_stop``, what the first SIGINT does) in process.
"""

from __future__ import annotations

import json
import signal
import sys

import keras
import pytest

from automl_kit.cli import main
from automl_kit.utils import interrupt
from tests.search.test_cli import cli_process  # automl-kit in a fresh interpreter

PKGCN = ["pkgcn", "--dataset", "digits", "--n-train", "100", "--n-val", "60", "--n-test", "100"]
EHR = ["ehr", "--simulate", "300", "--generations", "2", "--population", "4", "--base", "rf"]


@pytest.mark.parametrize(
    "argv, started",
    [
        ([*PKGCN, "--stage1-epochs", "400", "--stage2-epochs", "1"], "stage 1 epoch 1/"),
        ([*EHR, "--cnn-epochs", "400"], "cnn epoch 1/"),
    ],
    ids=["pkgcn", "ehr"],
)
def test_one_sigint_stops_a_training_command_and_resume_completes(argv, started, tmp_path):
    out = tmp_path / "run"
    process = cli_process(*argv, "--out", str(out))
    try:
        for line in process.stdout:  # training is under way
            if started in line:
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert f"stopped; resume with: automl-kit {argv[0]} --resume {out}" in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    assert not (out / "results.json").exists()


def test_a_stopped_pkgcn_resumes_to_a_finished_run(tmp_path, capsys):
    # what --resume does after the SIGINT above, here without the 400 epochs: it runs again
    out = tmp_path / "run"
    args = [*PKGCN, "--stage1-epochs", "1", "--stage2-epochs", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**record, "status": "stopped"}))
    (out / "results.json").unlink()
    assert main(["pkgcn", "--resume", str(out)]) == 0
    assert "runs the job again from its start" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert (out / "results.json").is_file()


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
