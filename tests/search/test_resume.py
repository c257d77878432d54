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


def test_resume_after_sigkill_loses_no_finished_evaluation_and_matches_an_unbroken_run(
    tmp_path, unbroken
):
    run_dir = tmp_path / "killed"
    code = f"from tests.search.conftest import run_tiny_search; run_tiny_search({str(run_dir)!r})"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    evaluations = run_dir / "evaluations.jsonl"
    deadline = time.time() + 240
    while len(_lines(evaluations)) < 5 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, (
        f"the search ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _lines(evaluations)
    assert 5 <= len(before) < unbroken.evaluations

    resumed = run_tiny_search(run_dir, resume=True)
    after = _lines(evaluations)
    keys_after_kill = [e["key"] for e in after[len(before) :]]
    assert not set(keys_after_kill) & {e["key"] for e in before}, (
        "a finished evaluation was trained again"
    )
    assert len(after) == unbroken.evaluations
    assert _trace(resumed) == _trace(unbroken)
    assert resumed.best_genes == unbroken.best_genes


def test_same_seed_same_fitness_history_with_real_training(tmp_path, unbroken):
    again = run_tiny_search(tmp_path / "again")
    assert _trace(again) == _trace(unbroken)
    assert len({r["fitness"] for r in again.history}) > 1  # real, varied fitness values
