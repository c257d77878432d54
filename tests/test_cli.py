import json

import pytest

from automl_kit.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"datasets", "evolve", "train"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: automl-kit " + name in capsys.readouterr().out


def test_datasets_command_lists_digits(capsys, tmp_path):
    assert main(["datasets", "--json", "--data-dir", str(tmp_path)]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["digits"]["offline"] is True
    assert rows["mnist"]["offline"] is False or "keras cache" in rows["mnist"]["location"]


def test_datasets_command_with_shared_files(capsys, data_dir):
    assert main(["datasets", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "28x28x1" in out


def test_evolve_end_to_end_writes_its_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "evolve",
        "--space",
        "compact",
        "--n-train",
        "200",
        "--n-val",
        "100",
        "--population",
        "3",
        "--generations",
        "1",
        "--max-phases",
        "2",
        "--budget-phases",
        "2",
        "--epochs-per-eval",
        "1",
        "--final-epochs",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and str(out) in printed.splitlines()[-1]
    results = json.loads((out / "results.json").read_text())
    assert results["test_accuracy"] > 0.2 and results["evaluations"] >= 3
    assert json.loads((out / "config.json").read_text())["budget_phases"] == 2
    for name in (
        "history.csv",
        "best_chromosome.json",
        "best_architecture.txt",
        "fitness.png",
        "final_model.keras",
    ):
        assert (out / name).is_file(), name


def test_evolve_rejects_a_space_that_does_not_fit_the_data(tmp_path, capsys):
    assert main(["evolve", "--space", "dense", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "pick another --space" in capsys.readouterr().err
