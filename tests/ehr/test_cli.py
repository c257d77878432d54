"""``automl-kit ehr``: a small simulated run writes its files; bad input is one line, exit 2."""

from __future__ import annotations

import json

import pytest

from automl_kit.cli import main

SMALL = ["--generations", "15", "--population", "8", "--cnn-epochs", "1", "--base", "rf"]


def test_simulated_run_writes_layout_images_curve_and_results(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["ehr", "--simulate", "600", *SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for line in (
        "ehr: loading a simulated cohort of 600 patients",
        "ehr: 420 training, 180 test patients",
        "layout ga gen 15/15",
        "ehr: training the rf base model and the CNN",
        "cnn epoch 1/1: loss",
        "models saved in",
        "cnn-boosted-rf (rank_average):",
        "on validation:",  # --weight auto (default): the booster against its base model
    ):
        assert line in printed, line
    rival = json.loads((out / "results.json").read_text())["rival"]
    assert rival["rival"] == "the rf base model alone" and rival["metric"] == "validation AUPRC"
    chosen = json.loads((out / "results.json").read_text())["weight"]
    assert (chosen == 1.0) == (rival["winner"] == rival["rival"])
    names = {p.name for p in out.iterdir()}
    assert {
        "layout.json",
        "layout_history.csv",
        "fitness.png",
        "patients.png",
        "layout.png",
        "results.csv",
        "relations.npy",
    } <= names
    assert (out / "model" / "cnn.keras").is_file() and (out / "model" / "booster.json").is_file()
    from automl_kit.datasets import ehr_cohort
    from automl_kit.ehr import CNNBoostedClassifier, EHRImageMapper

    mapper = EHRImageMapper.load(out)  # the run directory is enough to reuse the models
    tables = ehr_cohort(600, seed=0)
    with pytest.raises(ValueError, match="was not saved"):
        CNNBoostedClassifier.load(out / "model")
    assert mapper.to_X(tables)[0].shape[0] == 600
    results = json.loads((out / "results.json").read_text())
    models = [row["model"] for row in results["results"]]
    assert models == ["rf", "cnn", "cnn-boosted-rf"]
    assert (
        results["combine"] == "rank_average" and results["results"][2]["combine"] == "rank_average"
    )
    columns = results["model_columns"]
    assert columns["total"] == columns["counts"] + columns["demographics"]
    assert columns["counts"] == columns["codes"] * columns["windows"]
    assert all(0 <= row["auroc"] <= 1 for row in results["results"])
    assert results["layout"]["generations"] == 15
    layout = json.loads((out / "layout.json").read_text())
    assert sorted(i for i in layout["layout"] if i >= 0) == list(range(layout["n_features"]))
    capsys.readouterr()
    assert main(["ehr", "--resume", str(out)]) == 0  # finished: reported, nothing redone
    assert "finished; nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--simulate", "50", "--events", "e.csv"], "not both"),
        ([], "--simulate N"),
        (["--events", "missing.csv", "--patients", "p.csv"], "no such file"),
        (["--simulate", "50", "--test-size", "2"], "test-size"),
        (["--simulate", "50", "--layout", "spiral"], "invalid choice"),
        (["--simulate", "50", "--weight", "2"], "'auto'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) if "spiral" in argv or "--weight" in argv else _nothing():
        code = main(["ehr", *argv, "--out", str(tmp_path / "run")])
        assert code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_events_need_lookback_days(tmp_path, capsys):
    from automl_kit.datasets import ehr_example

    tables = ehr_example()
    tables.events.to_csv(tmp_path / "e.csv", index=False)
    tables.patients.to_csv(tmp_path / "p.csv", index=False)
    argv = ["ehr", "--events", str(tmp_path / "e.csv"), "--patients", str(tmp_path / "p.csv")]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    assert "--lookback-days" in capsys.readouterr().err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_help_explains_layout_and_shows_zero_defaults(capsys):
    # issue 23: --layout had no text and --n-confusing's default 0 was hidden
    with pytest.raises(SystemExit):
        main(["ehr", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "how codes are placed on the image grid" in text
    assert "training examples dropped (Alg. 4) (default: 0)" in text
