"""``auto``: the steps on a table (fast trees and a dense net) and on digits, the rules that skip
or keep an action, resume after a stop, and the checks made before any folder is touched."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from automl_kit import datasets
from automl_kit.auto import AutoResult, auto, plan
from automl_kit.auto import job as auto_job
from automl_kit.testing import check_result_round_trip
from automl_kit.utils.interrupt import Interrupted

TABLE_STEPS = ("floor", "diagnose", "label_issues", "label_smoothing", "tweak", "ensemble")


def _table(noise: float = 0.0):
    """A two-class table whose training labels have ``noise`` of them flipped."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=900, n_features=12, n_informative=6, class_sep=1.5, random_state=0
    )
    data = datasets.from_arrays(x.astype("float32"), y, name="table", n_val=150, seed=0)
    if noise:
        rng = np.random.default_rng(0)
        flip = rng.random(len(data.y_train)) < noise
        data = dataclasses.replace(data, y_train=np.where(flip, 1 - data.y_train, data.y_train))
    return data


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auto") / "table"
    result = auto(
        _table(noise=0.1), time_budget="60s", steps=TABLE_STEPS, run_dir=folder, verbose=0
    )
    return result, folder


def test_a_table_gets_a_tuned_tree_and_the_dense_default_then_the_best_on_validation(table_run):
    result, folder = table_run
    names = [e["name"] for e in result.leaderboard]
    assert {"xgboost", "dense_default"} <= set(names)
    best = max(result.leaderboard, key=lambda e: e["val_accuracy"])
    assert result.final["name"] == best["name"]
    assert result.final["val_accuracy"] == best["val_accuracy"]
    vals = [e["val_accuracy"] for e in result.leaderboard]
    assert vals == sorted(vals, reverse=True)
    assert all(0 <= e["test_auroc"] <= 1 for e in result.leaderboard)  # two classes: AUROC too
    tree = next(e for e in result.leaderboard if e["name"] == "xgboost")
    assert tree["spec"]["params"]["best_rounds"] >= 1 and tree["path"] == "models/xgboost.json"
    assert json.loads((folder / "run.json").read_text())["status"] == "finished"


def test_planted_label_noise_is_found_and_the_retrain_is_kept_only_if_validation_rises(table_run):
    result, _ = table_run
    found = result.records["label_issues"]
    assert found["ran"] and found["suspects"] >= 20  # ~60 labels were flipped
    assert found["kept"] == (found["val_after"] > found["val_before"])
    retrained = next(e for e in result.leaderboard if e["step"] == "label_issues")
    assert retrained["val_accuracy"] == found["val_after"]


def test_the_ensemble_averages_leaderboard_models_and_is_kept_only_if_validation_rises(table_run):
    result, folder = table_run
    record = result.records["ensemble"]
    if not record["ran"]:  # no average beat the best model on validation
        assert "alone" in record["reason"]
        return
    entry = next(e for e in result.leaderboard if e["name"] == "ensemble")
    members = entry["spec"]["members"]
    assert len(members) >= 2 and set(members) <= {e["name"] for e in result.leaderboard}
    assert sum(record["weights"].values()) == pytest.approx(1.0)
    assert record["kept"] == (entry["val_accuracy"] > record["val_before"])
    if record["kept"]:
        assert result.final["name"] == "ensemble" and result.final["kind"] == "ensemble"
        manifest = json.loads((folder / "final_model.json").read_text())
        assert {m["path"] for m in manifest["members"]} <= {
            e["path"] for e in result.leaderboard
        }  # the members' own files, relative to the run folder


def test_an_ensemble_of_networks_takes_images_as_they_are(tmp_path):
    import keras

    from automl_kit.auto._models import Ensemble, load_trained_model, probabilities
    from automl_kit.zoo import build_model

    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype("float32")
    nets = [build_model("textbook_cnn", (8, 8, 1), 3) for _ in range(2)]
    for i, net in enumerate(nets):
        net.save(tmp_path / f"net{i}.keras")
    both = Ensemble(nets, [3, 1], ["net0.keras", "net1.keras"])
    expected = 0.75 * probabilities(nets[0], x) + 0.25 * probabilities(nets[1], x)
    np.testing.assert_allclose(probabilities(both, x), expected, rtol=1e-6)
    both.save(tmp_path / "ensemble.json")
    again = load_trained_model(tmp_path / "ensemble.json")
    assert isinstance(again.members[0], keras.Model)
    np.testing.assert_allclose(probabilities(again, x), expected, rtol=1e-5)


def test_actions_that_do_not_apply_say_why(table_run):
    result, _ = table_run
    for step in ("label_smoothing", "tweak"):
        record = result.records[step]
        if result.final["path"].endswith(".json"):  # a tree won: no Keras-only action runs
            assert not record["ran"] and "is a tree" in record["reason"]
        else:
            assert "reason" in record or "kept" in record


def test_the_result_round_trips_and_predicts_new_rows(table_run, tmp_path):
    result, folder = table_run
    loaded = check_result_round_trip(result, tmp_path / "copy")
    data = _table()
    predicted = loaded.predict(data.x_test)
    assert predicted.shape == (len(data.x_test),)
    assert np.mean(predicted == data.y_test) == pytest.approx(
        result.final["test_accuracy"], abs=1e-6
    )
    with pytest.raises(ValueError, match="same columns"):
        loaded.predict(data.x_test[:, :5])
    report = (folder / "report.html").read_text()
    assert 'id="leaderboard"' in report and result.final["name"] in report
    assert plan()["floor"] == result.plan["floor"]


def test_a_resumed_run_skips_finished_steps_and_runs_the_one_it_stopped_in(tmp_path, monkeypatch):
    folder, data = tmp_path / "run", _table()
    real = auto_job._AutoRun._diagnose

    def stopped(self, seconds):
        raise Interrupted("stopped by Ctrl-C in diagnose")

    monkeypatch.setattr(auto_job._AutoRun, "_diagnose", stopped)
    with pytest.raises(Interrupted):
        auto(data, time_budget="30s", steps=("floor", "diagnose"), run_dir=folder, verbose=0)
    assert json.loads((folder / "run.json").read_text())["status"] == "stopped"
    state = json.loads((folder / "steps.json").read_text())
    assert list(state["records"]) == ["floor"]
    floor_file = folder / "models" / "xgboost.json"
    written = floor_file.stat().st_mtime_ns
    monkeypatch.setattr(auto_job._AutoRun, "_diagnose", real)
    result = auto(
        data, time_budget="30s", steps=("floor", "diagnose"), run_dir=folder, resume=True, verbose=0
    )
    assert floor_file.stat().st_mtime_ns == written  # the floor was not trained again
    assert list(result.records) == ["floor", "diagnose"] and result.records["diagnose"]["ran"]

    def files():  # the lock file is touched by every opening: bookkeeping, not the run
        return {
            p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and p.name != ".lock"
        }

    finished = files()
    again = auto(
        data, time_budget="30s", steps=("floor", "diagnose"), run_dir=folder, resume=True, verbose=0
    )
    assert again.summary() == result.summary()  # a finished run comes back as it was
    assert files() == finished
    with pytest.raises(ValueError, match="other steps"):
        auto(data, time_budget="30s", steps=("floor",), run_dir=folder, resume=True, verbose=0)
    with pytest.raises(ValueError, match="other metric"):
        auto(
            data, time_budget="30s", steps=("floor", "diagnose"), metric="roc_auc",
            run_dir=folder, resume=True, verbose=0,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_budget": "0s"}, "must be positive"),
        ({"max_drop": 2}, "max_drop"),
        ({"steps": ("floor", "dance")}, "unknown steps"),
        ({"metric": "f1"}, "unknown metric"),
    ],
)
def test_bad_options_are_refused_before_a_folder_is_made(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        auto(_table(), run_dir=tmp_path / "run", **options)
    assert not (tmp_path / "run").exists()


def test_auroc_is_refused_for_more_than_two_classes(tmp_path):
    data = datasets.load("digits", n_train=200, n_val=50, n_test=50, seed=0)
    with pytest.raises(ValueError, match="needs two classes"):
        auto(data, metric="roc_auc", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_rare_outcome_is_judged_by_auroc_when_asked(tmp_path):
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=1200, n_features=10, n_informative=4, weights=[0.9], flip_y=0.05,
        random_state=1,
    )  # fmt: skip
    data = datasets.from_arrays(x.astype("float32"), y, name="rare", n_val=300, seed=0)
    result = auto(
        data, time_budget="40s", metric="roc_auc",
        steps=("floor", "diagnose", "label_issues", "tweak", "ensemble"),
        run_dir=tmp_path / "run", verbose=0,
    )  # fmt: skip
    board = result.leaderboard
    scores = [e["val_auroc"] for e in board]
    assert scores == sorted(scores, reverse=True)  # ranked by the metric asked for
    assert result.final["name"] == board[0]["name"] and result.final["metric"] == "roc_auc"
    assert result.final["test_auroc"] == board[0]["test_auroc"]
    found = result.records["label_issues"]
    if found["ran"]:
        assert found["metric"] == "roc_auc" and found["val_before"] == max(
            e["val_auroc"] for e in board if e["step"] == "floor"
        )
        assert found["kept"] == (found["val_after"] > found["val_before"])
    assert "metric is roc_auc" in result.records["tweak"]["reason"]
    assert result.plan["metric"] == "roc_auc"
    # an average of the tree and the net ranks better on validation here: the final model
    assert result.records["ensemble"]["kept"] and result.final["kind"] == "ensemble"
    copy = AutoResult.load(result.save(tmp_path / "copy"))  # members copied beside it
    from sklearn.metrics import roc_auc_score

    p = copy.predict_proba(data.x_test)
    assert roc_auc_score(data.y_test, p[:, 1]) == pytest.approx(result.final["test_auroc"])


def test_data_without_a_test_split_is_refused(tmp_path):
    data = _table()
    empty = {f"{part}_test": getattr(data, f"{part}_test")[:0] for part in ("x", "y", "index")}
    data = dataclasses.replace(data, **empty)
    with pytest.raises(ValueError, match="n_test > 0"):
        auto(data, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_floor_comes_first_and_the_search_gets_what_the_later_fits_leave():
    run = object.__new__(auto_job._AutoRun)
    run.total, run.score = 1000.0, "val_accuracy"
    run.state = {"spent": 0.0, "records": {}, "leaderboard": []}
    assert run.budget_for("floor") == pytest.approx(auto_job.FLOOR_SHARE * 1000)
    net = {"step": "floor", "kind": "keras", "seconds": 95.0, "val_accuracy": 0.9}
    tree = {"step": "floor", "kind": "tree", "seconds": 20.0, "val_accuracy": 0.8}
    run.state = {"spent": 100.0, "records": {"floor": {}}, "leaderboard": [tree, net]}
    assert run.model_cost() == 95.0
    # a network leads: its final fit and two retrainings of the network
    assert run.budget_for("search") == pytest.approx(900 - 3 * 95)
    tree["val_accuracy"] = 0.95  # a tree leads: the final fit and two retrainings of the tree
    assert run.budget_for("search") == pytest.approx(900 - 95 - auto_job.RETRAININGS * 20)
    assert run.budget_for("label_smoothing") == pytest.approx(900)  # later steps: all that is left


def test_the_tweak_chooses_on_one_half_of_validation_and_is_judged_on_the_other():
    run = object.__new__(auto_job._AutoRun)
    run.data, run.seed = _table(), 0
    choose, confirm = run._validation_halves()
    rows = np.concatenate([choose.index_val, confirm.index_val])
    assert sorted(rows) == sorted(run.data.index_val)  # disjoint halves of the whole split
    assert abs(len(choose.y_val) - len(confirm.y_val)) <= 1
    assert abs(choose.y_val.mean() - confirm.y_val.mean()) < 0.02  # stratified
    assert len(choose.y_train) == len(run.data.y_train)  # training data untouched


def test_a_search_that_the_later_fits_would_crowd_out_is_skipped(tmp_path):
    data = _table()
    result = auto(
        data, time_budget="12s", steps=("floor", "search"), run_dir=tmp_path / "r", verbose=0
    )
    record = result.records["search"]
    assert not record["ran"] and "a search needs" in record["reason"]
    assert not (tmp_path / "r" / "search").exists()


def test_digits_get_the_textbook_cnn_and_a_diagnosis(tmp_path):
    data = datasets.load("digits", n_train=300, n_val=100, n_test=100, seed=0)
    result = auto(
        data, time_budget="20s", steps=("floor", "diagnose", "label_smoothing", "tweak"),
        run_dir=tmp_path / "digits", verbose=0,
    )  # fmt: skip
    assert [e["name"] for e in result.leaderboard] == ["textbook_cnn"]
    assert result.final["path"] == "final_model.keras"
    diagnosis = result.records["diagnose"]
    assert diagnosis["verdict"] and (tmp_path / "digits" / "diagnosis" / "report.html").is_file()
    assert 0 <= diagnosis["weakest_class"] < 10
    for step in ("label_smoothing", "tweak"):  # each either ran with its effect or says why not
        record = result.records[step]
        assert ("kept" in record) if record["ran"] else record["reason"]
    probabilities = AutoResult.load(tmp_path / "digits").predict_proba(data.x_test[:4])
    assert probabilities.shape == (4, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)


def test_a_fit_cut_off_mid_run_continues_from_its_last_epoch(
    tmp_path, monkeypatch, stop_after_epoch
):
    monkeypatch.setattr(auto_job, "PLATEAU_EPOCHS", 3)  # the schedule, whatever the speed
    data = datasets.load("digits", n_train=300, n_val=100, n_test=100, seed=0)
    whole = auto(data, time_budget="10m", steps=("floor",), run_dir=tmp_path / "whole", verbose=0)
    stop_after_epoch(2)
    folder = tmp_path / "cut"
    with pytest.raises(Interrupted):
        auto(data, time_budget="10m", steps=("floor",), run_dir=folder, verbose=0)
    saved = json.loads((folder / "fits" / "textbook_cnn" / "checkpoint.json").read_text())["state"]
    assert saved["epoch"] == 2 and saved["config"]["epochs"] == 3
    stop_after_epoch(None)
    resumed = auto(
        data, time_budget="10m", steps=("floor",), run_dir=folder, resume=True, verbose=0
    )
    ours, theirs = resumed.leaderboard[0], whole.leaderboard[0]
    assert ours["epochs"] == ours["epochs_run"] == 3
    # the resumed fit ends exactly as the unbroken one (same batches, same state, on the CPU)
    assert ours["val_accuracy"] == theirs["val_accuracy"]
    assert ours["test_accuracy"] == theirs["test_accuracy"]
    assert not (folder / "fits" / "textbook_cnn").exists()  # saved in models/: no checkpoints


def test_the_report_renders_in_headless_chromium(table_run, tmp_path):
    import re
    import subprocess

    from tests.diagnose.test_cli import _chromium

    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH: `apt-get install -y chromium` runs this check")
    result, folder = table_run
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    dom = subprocess.run(
        [*flags, "--dump-dom", (folder / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    board = re.search(r'<table id="leaderboard">(.*?)</table>', dom, re.S)
    assert board, "the page did not render its leaderboard"
    assert board.group(1).count("<tr>") == len(result.leaderboard) + 1  # + the header
    assert re.search(r'<table id="steps">', dom) and result.final["name"] in dom
