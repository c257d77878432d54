"""`automl-kit train` end to end on digits."""

import json

from automl_kit.cli import main


def test_train_writes_log_plots_model_and_results(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "--model",
        "vgg11",
        "--width",
        "0.125",
        "--dataset",
        "digits",
        "--n-train",
        "300",
    ]
    args += [
        "--epochs",
        "3",
        "--freezing",
        "intelligent",
        "--record-rates",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    assert "test accuracy" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["policy"]["policy"] == "intelligent" and 0.0 <= results["test_accuracy"] <= 1.0
    log = json.loads((out / "freezing.json").read_text())
    assert len(log["epochs"]) == 3 and len(log["layers"]) == 10
    for name in ("freezing_log.csv", "frozen_prefix.png", "freezing_rates.png", "model.keras"):
        assert (out / name).is_file(), name


def test_train_rejects_bad_milestones_and_tabular_data(tmp_path, capsys):
    assert (
        main(["train", "--dataset", "digits", "--milestones", "half", "--out", str(tmp_path / "a")])
        == 2
    )
    assert "--milestones" in capsys.readouterr().err
