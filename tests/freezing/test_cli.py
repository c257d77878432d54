"""`automl-kit train` end to end on digits: outputs, bad input, and resume after a real SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from automl_kit.cli import main

TINY = ["train", "--model", "vgg11", "--width", "0.125", "--dataset", "digits", "--n-train", "300"]


def test_train_writes_log_plots_model_and_results(tmp_path, capsys):
    import keras

    out = tmp_path / "run"
    args = [*TINY, "--epochs", "3", "--freezing", "intelligent", "--freeze-mode", "thesis"]
    assert main([*args, "--record-rates", "--out", str(out), "--quiet"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    # the shared recipe by default: AdamW on a warm-up and cosine schedule over the 3 epochs
    optimizer = keras.saving.load_model(out / "model.keras").optimizer
    assert type(optimizer).__name__ == "AdamW"
    schedule = optimizer.get_config()["learning_rate"]["config"]
    assert schedule["shape"] == "cosine" and schedule["total_steps"] == 3 * 5  # 300 / 64
    results = json.loads((out / "results.json").read_text())
    assert results["policy"]["policy"] == "intelligent" and 0.0 <= results["test_accuracy"] <= 1.0
    assert results["policy"]["mode"] == "thesis" and results["policy"]["every"] == 2
    log = json.loads((out / "freezing.json").read_text())
    assert len(log["epochs"]) == 3 and len(log["layers"]) == 10
    for name in ("freezing_log.csv", "frozen_prefix.png", "freezing_rates.png", "model.keras"):
        assert (out / name).is_file(), name
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_compare_trains_the_rival_from_the_same_start_and_names_the_winner(tmp_path, capsys):
    from automl_kit.freezing import TrainResult

    out = tmp_path / "run"
    args = [*TINY, "--epochs", "2", "--freezing", "intelligent", "--compare", "none"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    rival = json.loads((out / "results.json").read_text())["rival"]
    assert (rival["method"], rival["rival"]) == ("intelligent freezing", "no freezing")
    assert rival["winner"] in (rival["method"], rival["rival"])
    assert rival["method_seconds"] > 0 and rival["rival_seconds"] > 0
    assert rival["verdict"] in capsys.readouterr().out
    assert (out / "rival_model.keras").is_file()
    loaded = TrainResult.load(out)
    assert loaded.comparison.summary() == rival


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--label-smoothing", "1"], "--label-smoothing: must be below 1"),
        (["--warmup", "-0.1"], "--warmup: must be a finite number >= 0"),
        (["--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--lr", "nan"], "--lr: must be a finite number above 0"),
        (["--model", "resnet1000"], "unknown model 'resnet1000'; choose one of: "),
        (["--optimizer", "lion"], "argument --optimizer: invalid choice: 'lion'"),
        (["--lr-schedule", "linear"], "argument --lr-schedule: invalid choice: 'linear'"),
        (["--augment", "mixup"], "argument --augment: invalid choice: 'mixup'"),
        (["--compare", "never"], "argument --compare: invalid choice: 'never'"),
        (["--decay-rate", "0.5"], "--decay-rate has no effect with --lr-schedule cosine"),
        (
            ["--freezing", "freezeout", "--freeze-mode", "thesis"],
            "--freeze-mode belongs to --freezing intelligent",
        ),
    ],
)
def test_train_rejects_bad_arguments_before_any_work(tmp_path, capsys, args, fragment):
    try:
        code = main([*TINY, *args, "--out", str(tmp_path / "run")])
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_train_rejects_tabular_data_naming_the_fix(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = ["a,b,c,label"] + [
        f"{x:.3f},{y:.3f},{z:.3f},{int(x > 0.5)}" for x, y, z in rng.random((60, 3))
    ]
    table = tmp_path / "table.csv"
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    args = ["train", "--data", str(table), "--label", "label", "--out", str(out), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "zoo models take images" in err and "shape (3,)" in err and "--space dense" in err
    assert not (out / "model.keras").exists() and not (out / "results.json").exists()


@pytest.mark.processes
def test_a_killed_train_resumes_to_the_weights_of_an_unbroken_run(tmp_path, capsys):
    import keras

    args = [*TINY, "--epochs", "6", "--freezing", "intelligent", "--quiet"]
    killed, unbroken = tmp_path / "killed", tmp_path / "unbroken"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOML_KIT_Q")}
    process = subprocess.Popen(
        [sys.executable, "-m", "automl_kit.cli", *args, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            # checkpoint.json is the commit point (a checkpoint-*.keras may still be a temporary)
            if (killed / "checkpoint.json").exists():
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "results.json").exists()
    assert main(["train", "--resume", str(killed), "--quiet"]) == 0
    assert main([*args, "--out", str(unbroken)]) == 0
    log = json.loads((killed / "freezing.json").read_text())
    assert len(log["epochs"]) == 6
    resumed = keras.models.load_model(killed / "model.keras").get_weights()
    reference = keras.models.load_model(unbroken / "model.keras").get_weights()
    assert len(resumed) == len(reference)
    for a, b in zip(resumed, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the whole history too, validation included (it once lost frozen layers' L2 terms on resume)
    reference_log = json.loads((unbroken / "freezing.json").read_text())["epochs"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(
            [row[key] for row in log["epochs"]],
            [row[key] for row in reference_log],
            rtol=1e-5,
            err_msg=key,
        )
    # a finished run is left alone
    capsys.readouterr()
    assert main(["train", "--resume", str(killed)]) == 0
    assert "is finished; nothing to do" in capsys.readouterr().out


def test_train_refuses_the_run_directory_of_a_killed_search(tmp_path, capsys):
    from automl_kit.utils.rundir import RunDirectory

    search = RunDirectory.open(tmp_path / "run", "evolve")
    (search.root / "evaluations.jsonl").write_text('{"key": "[1]"}\n')
    search.mark_stopped()
    search.close()
    before = {p.name: p.read_bytes() for p in search.root.iterdir() if p.is_file()}
    assert main([*TINY, "--epochs", "1", "--out", str(search.root)]) == 2
    assert "already holds an 'evolve' run (stopped)" in capsys.readouterr().err
    assert main(["train", "--resume", str(search.root)]) == 2
    assert "automl-kit evolve --resume" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in search.root.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("policy, plotted", [("intelligent", True), ("none", False)])
def test_the_rates_plot_comes_whenever_rates_were_measured(tmp_path, policy, plotted):
    """README: freezing_rates.png comes with a policy that measures rates anyway (intelligent),
    or with --record-rates; a policy that measures none gives no empty plot."""
    out = tmp_path / "run"
    args = [*TINY, "--epochs", "2", "--freezing", policy, "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert (out / "freezing_rates.png").is_file() == plotted


def test_train_takes_any_named_optimizer_and_a_decks_schedule(tmp_path, capsys):
    import keras

    out = tmp_path / "run"
    args = ["--optimizer", "adam", "--lr", "0.01", "--lr-schedule", "inverse_time"]
    args += ["--decay-rate", "0.5", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main([*TINY, *args]) == 0
    model = keras.saving.load_model(out / "model.keras")
    assert type(model.optimizer).__name__ == "Adam"
    saved = model.optimizer.get_config()["learning_rate"]  # the schedule, through .keras
    assert saved["class_name"] == "InverseTimeDecay"
    assert saved["config"]["initial_learning_rate"] == 0.01
    assert saved["config"]["decay_rate"] == 0.5
