"""The VLGA's schedules: paced (a budget shared among phases, all of it spent) against the thesis.

Fake fitness and a fake clock: each candidate "trains" for 5 seconds of budget time, so a
two-minute budget is 24 candidates and the tests take well under a second of real time each.
"""

import json
import time

import numpy as np
import pytest

from automl_kit.cli import main
from automl_kit.search import VariableLengthGA
from automl_kit.utils.interrupt import Interrupted, request_stop
from automl_kit.utils.rundir import RunDirectory
from tests.search.conftest import tiny_space

X = np.zeros((20, 8, 8, 1), np.float32)
Y = np.arange(20) % 2
SECONDS_PER_CANDIDATE = 5.0


class FakeClock:
    """``time`` for the budget: starts now and advances only when a candidate trains."""

    def __init__(self):
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, fake_evaluate):
    fake = FakeClock()
    monkeypatch.setattr("automl_kit.utils.budget._time", fake)

    def timed(task, callbacks=()):
        fake.now += SECONDS_PER_CANDIDATE
        return fake_evaluate(task)

    monkeypatch.setattr("automl_kit.search._run.evaluate", timed)
    return fake


def _search(run_dir, settings=None, **budget):
    ga = VariableLengthGA(tiny_space(), **{"seed": 0, "verbose": 0, **(settings or {})})
    return ga, ga.search(X, Y, validation_data=(X, Y), run_dir=run_dir, **budget)


def _phases(result) -> set[int]:
    return {r["phase"] for r in result.history}


def test_the_default_grows_within_two_minutes_and_the_thesis_does_not(tmp_path, clock):
    ga, default = _search(tmp_path / "default", time_budget="2m")
    assert ga.schedule == "auto" and ga.paced and ga.population_size == 4
    assert max(_phases(default)) >= 1 and ga.space.n_blocks(default.best_genes) >= 2
    assert default.stop_reason == "time budget of 120 s spent"
    # every paced phase (the first four) kept within its share: none spent more than 30 s
    assert all(
        sum(r["trained_now"] for r in default.history if r["phase"] == p) <= 6 for p in range(4)
    )

    ga, thesis = _search(tmp_path / "thesis", {"schedule": "thesis"}, time_budget="2m")
    assert not ga.paced and ga.population_size == 20
    assert _phases(thesis) == {0}  # 24 candidates of the 100 its first phase needs
    assert ga.space.n_blocks(thesis.best_genes) == 1


def test_a_large_population_cannot_eat_the_budget_in_phase_0(tmp_path, clock):
    _, result = _search(tmp_path / "run", {"population": 20}, max_evaluations=20)
    per_phase = [sum(r["trained_now"] for r in result.history if r["phase"] == p) for p in range(4)]
    assert per_phase == [5, 5, 5, 5]  # each phase ends mid-generation when its share is spent
    assert [r["individual"] for r in result.history if r["phase"] == 1] == [0, 1, 2, 3, 4]
    assert result.stop_reason == "evaluation budget of 20 spent"


def test_a_phase_that_falls_ends_the_thesis_but_paced_grows_again_from_the_best(
    tmp_path, clock, monkeypatch, fake_evaluate
):
    def shallow_is_better(task, callbacks=()):  # phase 1 is 0.1 below phase 0
        clock.now += SECONDS_PER_CANDIDATE
        e = fake_evaluate(task)
        e.fitness = 0.9 - 0.1 * (len(task.genes) > 10)
        return e

    monkeypatch.setattr("automl_kit.search._run.evaluate", shallow_is_better)
    settings = {"population": 4, "generations": 2}
    ga, thesis = _search(tmp_path / "thesis", {**settings, "schedule": "thesis"}, time_budget="2m")
    assert thesis.stop_reason.startswith("thesis rule: phase 1 best 0.8000 fell more than 0.01")
    assert _phases(thesis) == {0, 1} and len(thesis.history) == 16

    ga, paced = _search(tmp_path / "paced", settings, time_budget="2m")
    assert paced.stop_reason == "time budget of 120 s spent"  # it used all of it
    assert max(_phases(paced)) >= 3 and sum(r["trained_now"] for r in paced.history) == 24
    best0 = [r["genes"] for r in paced.history if r["phase"] == 0 and r["fitness"] == 0.9]
    for row in paced.history:
        if row["phase"] >= 1:  # each later phase extends phase 0's best again: 2 blocks, no more
            assert row["n_blocks"] == 2 and row["genes"][:10] in best0
    assert len(paced.best_genes) == 10


def test_the_schedule_is_checked_saved_and_resumed(tmp_path, clock):
    with pytest.raises(ValueError, match="schedule must be one of auto, paced, thesis"):
        VariableLengthGA(tiny_space(), schedule="fast")
    with pytest.raises(ValueError, match="drop budget_phases or use schedule='paced'"):
        VariableLengthGA(tiny_space(), schedule="thesis", budget_phases=3)
    with pytest.raises(ValueError, match="pass time_budget or max_evaluations"):
        _search(tmp_path / "none", {"schedule": "paced"})
    assert not (tmp_path / "none").exists()  # refused before any work

    ga = VariableLengthGA(tiny_space(), schedule="paced", budget_phases=3, population=6)
    config = json.loads(json.dumps(ga.get_config()))
    assert config["schedule"] == "paced" and config["population"] == 6
    assert VariableLengthGA.from_config(config).get_config() == ga.get_config()

    settings = {"schedule": "paced", "population": 6}
    _, unbroken = _search(tmp_path / "unbroken", settings, max_evaluations=20)
    import automl_kit.search._run as base

    timed, calls = base.evaluate, []

    def stop_after_seven(task, callbacks=()):
        calls.append(task)
        if len(calls) == 7:
            request_stop()  # Ctrl-C inside graceful_interrupt(), in phase 1
        return timed(task)

    base.evaluate = stop_after_seven
    try:
        with pytest.raises(Interrupted):
            _search(tmp_path / "run", settings, max_evaluations=20)
    finally:
        base.evaluate = timed
        from automl_kit.utils import interrupt

        interrupt._requested.clear()
    assert RunDirectory(tmp_path / "run").status == "stopped"
    with pytest.raises(ValueError, match="schedule differ"):
        _search(tmp_path / "run", {**settings, "schedule": "thesis"}, resume=True)
    _, resumed = _search(tmp_path / "run", settings, resume=True, max_evaluations=20)
    path = lambda r: [(x["phase"], x["generation"], x["genes"]) for x in r.history]  # noqa: E731
    assert path(resumed) == path(unbroken) and resumed.evaluations == 20


def test_the_cli_takes_a_schedule_and_refuses_paced_without_a_budget(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evolve", "--schedule", "paced", "--out", str(out), "--quiet"]) == 2
    assert "schedule='paced' shares a time or evaluation budget" in capsys.readouterr().err
    code = main(
        ["evolve", "--algorithm", "random_search", "--schedule", "thesis", "--out", str(out)]
    )
    assert code == 2 and "does not take --schedule" in capsys.readouterr().err
    assert not out.exists()
