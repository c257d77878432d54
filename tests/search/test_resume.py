"""Resume after a real SIGKILL, and determinism of real training on the CPU."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.search.conftest import run_tiny_search

ROOT = Path(__file__).resolve().parents[2]


def _trace(result):
    return [
        (r["phase"], r["generation"], r["genes"], round(r["fitness"], 6)) for r in result.history
    ]


def _lines(path):
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if path.exists()
        else []
    )


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    return run_tiny_search(tmp_path_factory.mktemp("unbroken") / "run")


def _start(run_dir, resume):
    code = (
        "from tests.search.conftest import run_tiny_search; "
        f"run_tiny_search({str(run_dir)!r}, resume={resume})"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finished_keys(records):
    return [r["key"] for r in records if r["status"] in ("ok", "rejected", "failed")]


@pytest.mark.slow  # the one-SIGKILL CLI test (test_cli.py) covers the default run
def test_three_sigkills_in_a_row_never_retrain_a_finished_evaluation(tmp_path, unbroken):
    run_dir = tmp_path / "killed"
    evaluations = run_dir / "evaluations.jsonl"
    total = unbroken.evaluations
    for kill in range(3):
        before = len(_lines(evaluations))
        # each session must log at least one new evaluation and leave one for the next
        target = min(before + 2, total - (3 - kill))
        proc = _start(run_dir, resume=kill > 0)
        deadline = time.time() + 240
        while len(_lines(evaluations)) < target and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, (
            f"the search ended before kill {kill + 1}: {proc.stderr.read().decode()[-2000:]}"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        assert before < len(_lines(evaluations)) < total

    resumed = run_tiny_search(run_dir, resume=True)
    keys = _finished_keys(_lines(evaluations))
    assert len(keys) == len(set(keys)), "a finished evaluation was trained again"
    assert len(keys) == total == resumed.evaluations == resumed.summary()["evaluations"]
    assert _trace(resumed) == _trace(unbroken)
    assert resumed.best_genes == unbroken.best_genes
    assert resumed.best_fitness == unbroken.best_fitness
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow  # relative paths after a move: tests/utils/test_rundir.py by default
def test_a_moved_run_directory_resumes_and_a_finished_one_trains_nothing(tmp_path, unbroken):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(unbroken.run.root, copy)
    stored = [r["model_path"] for r in _lines(copy / "evaluations.jsonl") if r["model_path"]]
    assert stored and all(p.startswith("models/") for p in stored)  # relative to the run
    again = run_tiny_search(copy, resume=True)
    assert again.from_earlier_run and "finished earlier" in again.stop_reason
    assert again.best_genes == unbroken.best_genes
    assert len(_lines(copy / "evaluations.jsonl")) == unbroken.evaluations
    # the best model is found in the copy, not at the original's path
    assert str(again.run.resolve(again.best.model_path)).startswith(str(copy))
    model = again.best_model()
    assert model.count_params() == again.best.params


# The three-SIGKILL test already compares a separately trained (killed, resumed) run with the
# unbroken one trace for trace; this second full search is kept for `pytest -m slow`.
@pytest.mark.slow
def test_same_seed_same_fitness_history_with_real_training(tmp_path, unbroken):
    again = run_tiny_search(tmp_path / "again")
    assert _trace(again) == _trace(unbroken)
    assert len({r["fitness"] for r in again.history}) > 1  # real, varied fitness values
