"""A search's run directory: one evaluation count, finished/stopped marks, extend, resume rules.

Fake fitness (``fake_evaluate``): these check the search engine's bookkeeping, not training.
"""

import json
import math
import shutil

import numpy as np
import pytest

from automl_kit.registries import SEARCHERS, SPACES
from automl_kit.search import (
    ClassicalGA,
    LargeScaleEvolution,
    RandomSearch,
    SearchSpace,
    VariableLengthGA,
)
from automl_kit.utils.interrupt import Interrupted, request_stop
from automl_kit.utils.rundir import CorruptRunError, DiskFullError, RunDirectory, RunLockedError
from tests.search.conftest import tiny_space

X = np.zeros((20, 8, 8, 1), np.float32)
Y = np.arange(20) % 2


def _ga(**settings):
    # the thesis schedule: its path does not depend on the budget (paced runs: test_schedule.py)
    defaults = {"population": 6, "generations": 3, "schedule": "thesis", "seed": 0, "verbose": 0}
    return VariableLengthGA(tiny_space(), **{**defaults, **settings})


def _search(searcher, run_dir, **kwargs):
    return searcher.search(X, Y, validation_data=(X, Y), run_dir=run_dir, **kwargs)


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "evaluations.jsonl").read_text().splitlines()]


def _path(result):
    return [(r["phase"], r["generation"], r["genes"], r["fitness"]) for r in result.history]


def test_one_evaluation_count_in_progress_summary_and_log_also_after_a_resume(
    tmp_path, fake_evaluate, capsys
):
    run_dir = tmp_path / "run"
    first = _search(_ga(max_phases=3), run_dir, max_evaluations=9)
    assert first.evaluations == len(_records(run_dir)) == 9
    RunDirectory(run_dir).mark_stopped()  # as if it had been stopped there
    capsys.readouterr()
    resumed = _search(_ga(max_phases=3, verbose=1), run_dir, resume=True, max_evaluations=20)
    lines = [line for line in capsys.readouterr().out.splitlines() if "evaluations" in line]
    records = _records(run_dir)
    assert resumed.evaluations == resumed.summary()["evaluations"] == len(records) == 20
    assert lines[-1].split(" | ")[-1].startswith("20 evaluations")  # the last progress line
    assert len({r["key"] for r in records}) == len(records) == len(fake_evaluate.calls)


def test_a_finished_run_resumes_to_its_saved_result_and_extend_keeps_the_first(
    tmp_path, fake_evaluate
):
    run_dir = tmp_path / "run"
    first = _search(_ga(max_phases=4), run_dir, max_evaluations=10)
    assert RunDirectory(run_dir).status == "finished"
    trained = len(fake_evaluate.calls)

    again = _search(_ga(max_phases=4), run_dir, resume=True, max_evaluations=30)
    assert len(fake_evaluate.calls) == trained  # nothing trained
    assert again.from_earlier_run and "finished earlier" in again.stop_reason
    assert "evaluation budget of 10 spent" in again.stop_reason and "extend" in again.stop_reason
    assert (again.best_genes, again.best_fitness) == (first.best_genes, first.best_fitness)
    assert again.evaluations == first.evaluations and _path(again) == _path(first)

    kept = json.loads((run_dir / "best_chromosome.json").read_text())
    longer = _search(_ga(max_phases=4), run_dir, resume=True, extend=True, max_evaluations=30)
    assert len(fake_evaluate.calls) > trained and longer.evaluations == len(_records(run_dir))
    assert json.loads((run_dir / "result-1" / "best_chromosome.json").read_text()) == kept
    assert longer.best_fitness >= first.best_fitness
    assert RunDirectory(run_dir).status == "finished"
    with pytest.raises(ValueError, match="pass resume=True as well"):
        _search(_ga(), tmp_path / "other", extend=True)


def test_a_deleted_checkpoint_replays_from_the_log_without_training_twice(tmp_path, fake_evaluate):
    unbroken = _search(_ga(max_phases=3), tmp_path / "unbroken", max_evaluations=20)
    calls = len(fake_evaluate.calls)
    run_dir = tmp_path / "run"
    _search(_ga(max_phases=3), run_dir, max_evaluations=8)
    (run_dir / "checkpoint.json").unlink()
    RunDirectory(run_dir).mark_stopped()
    resumed = _search(_ga(max_phases=3), run_dir, resume=True, max_evaluations=20)
    assert len(fake_evaluate.calls) - calls == 20  # 8 before, 12 after: none twice
    assert _path(resumed) == _path(unbroken)
    assert resumed.evaluations == 20


@pytest.mark.parametrize("content", [b'{"state": {"sea', b"\x00\xff\x10", b"{}"])
def test_a_corrupt_checkpoint_names_the_file_and_the_fix(tmp_path, fake_evaluate, content):
    run_dir = tmp_path / "run"
    _search(_ga(max_phases=3), run_dir, max_evaluations=8)
    RunDirectory(run_dir).mark_stopped()
    (run_dir / "checkpoint.json").write_bytes(content)
    with pytest.raises(CorruptRunError, match=r"checkpoint.json is corrupt.*delete .*resume"):
        _search(_ga(max_phases=3), run_dir, resume=True)


def test_a_moved_run_resumes_with_its_parent_models_found_in_the_new_place(tmp_path, fake_evaluate):
    _search(_ga(max_phases=3), tmp_path / "a", max_evaluations=20)  # stops in phase 1
    RunDirectory(tmp_path / "a").mark_stopped()
    shutil.move(tmp_path / "a", tmp_path / "b")
    fake_evaluate.calls.clear()
    _search(_ga(max_phases=3), tmp_path / "b", resume=True, max_evaluations=30)
    parents = [t.parent_model for t in fake_evaluate.calls if t.parent_model]
    assert parents and all(p.startswith(str(tmp_path / "b" / "models")) for p in parents)
    state = json.loads((tmp_path / "b" / "checkpoint.json").read_text())["state"]["search"]
    assert state["parent_model"].startswith("models/")


def test_ctrl_c_stops_at_a_safe_point_marks_the_run_stopped_and_resumes(tmp_path, fake_evaluate):
    unbroken = _search(_ga(max_phases=2), tmp_path / "unbroken")

    def stop_after_five(task, callbacks=()):
        if len(fake_evaluate.calls) == 4:
            request_stop()  # what the first Ctrl-C does inside graceful_interrupt()
        return fake_evaluate(task)

    import automl_kit.search._run as base

    run_dir = tmp_path / "run"
    fake_evaluate.calls.clear()
    original, base.evaluate = base.evaluate, stop_after_five
    try:
        with pytest.raises(Interrupted):
            _search(_ga(max_phases=2), run_dir)
    finally:
        base.evaluate = original
        from automl_kit.utils import interrupt

        interrupt._requested.clear()
    assert RunDirectory(run_dir).status == "stopped"
    assert len(_records(run_dir)) == 5  # the evaluation that finished is logged, then it stopped
    resumed = _search(_ga(max_phases=2), run_dir, resume=True)
    assert _path(resumed) == _path(unbroken)
    assert len(fake_evaluate.calls) == resumed.evaluations == unbroken.evaluations


def test_a_run_directory_in_use_is_refused(tmp_path, fake_evaluate):
    _search(_ga(max_phases=1), tmp_path / "run")
    with RunDirectory.open(tmp_path / "run", "vlga", resume=True):
        with pytest.raises(RunLockedError, match="in use by another process"):
            _search(_ga(max_phases=1), tmp_path / "run", resume=True)


def test_another_commands_folder_is_refused_before_writing(tmp_path, fake_evaluate):
    with RunDirectory.open(tmp_path / "run", "train") as run:
        run.write_config({"epochs": 3})
    with pytest.raises(ValueError, match="already holds a 'train' run"):
        _search(_ga(max_phases=1), tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {"epochs": 3}
    assert not (tmp_path / "run" / "evaluations.jsonl").exists()


def test_a_full_disk_gives_one_line_naming_what_could_not_be_written(tmp_path, fake_evaluate):
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    with RunDirectory.open(tmp_path / "run", "vlga") as run:
        (tmp_path / "run" / "checkpoint.json.tmp").symlink_to("/dev/full")
        with pytest.raises(
            DiskFullError, match=r"could not write .*checkpoint.json: no space.*resume"
        ):
            _search(_ga(max_phases=1), run)


def test_a_model_that_cannot_be_saved_for_lack_of_space_is_one_clear_error(
    tmp_path, fake_evaluate, monkeypatch
):
    import errno

    def disk_full(task, callbacks=()):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("automl_kit.search._run.evaluate", disk_full)
    with pytest.raises(DiskFullError, match="no space left.*Nothing finished is lost.*resume"):
        _search(_ga(max_phases=1), tmp_path / "run")


@pytest.mark.parametrize("budget", [math.nan, "nan", -5, 0])
def test_a_bad_time_budget_is_refused_before_any_work(tmp_path, fake_evaluate, budget):
    with pytest.raises(ValueError, match="duration|time budget"):
        _search(_ga(), tmp_path / "run", time_budget=budget)
    assert not (tmp_path / "run").exists() and not fake_evaluate.calls


@pytest.mark.parametrize(
    "searcher",
    [
        _ga(max_phases=2, phase_patience=2, schedule="paced", budget_phases=3),
        RandomSearch(tiny_space(), depth_range=(2, 4), batch=3, seed=1, verbose=0),
        ClassicalGA(tiny_space(), population=5, elite=2, seed=2),
        LargeScaleEvolution(tiny_space(), population=4, steps_per_round=2, early_rejection=0.5),
    ],
    ids=lambda s: s.algorithm,
)
def test_config_round_trips(searcher):
    config = json.loads(json.dumps(searcher.get_config()))
    rebuilt = type(searcher).from_config(config)
    assert rebuilt.get_config() == searcher.get_config()
    assert SEARCHERS.get(config["algorithm"]) is type(searcher)
    with pytest.raises(ValueError, match="not '"):
        VariableLengthGA.from_config({**config, "algorithm": "random_search"})


def test_quiet_is_a_deprecated_alias_of_verbose():
    with pytest.warns(DeprecationWarning, match="verbose=0"):
        ga = VariableLengthGA(tiny_space(), quiet=True)
    assert ga.verbose == 0 and ga.quiet


def test_registries_are_the_search_tables():
    from automl_kit import search
    from automl_kit.search import spaces

    assert search.SEARCHERS is SEARCHERS and spaces.SPACES is SPACES
    space = SearchSpace.from_config(tiny_space().get_config())
    assert space.get_config() == tiny_space().get_config()
    with pytest.raises(ValueError, match="unknown search space 'hex'; choose one of: cnn, dense"):
        SearchSpace.from_config({"kind": "hex"})
