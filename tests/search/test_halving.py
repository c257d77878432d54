"""Successive halving inside one population evaluation (``Searcher(successive_halving=eta)``)."""

import dataclasses
import json
import random

import keras
import numpy as np
import pytest

from automl_kit.search import VariableLengthGA
from automl_kit.search._evaluation import EvalTask, Evaluation, evaluate, set_worker_data
from automl_kit.search.base import halving_rungs
from tests.search.conftest import fake_fitness, tiny_space


class RungEvaluate:
    """A fake trainer that honours rungs: fitness grows with the epochs trained, by genes."""

    def __init__(self, kill_after: int | None = None):
        self.calls: list[EvalTask] = []
        self.kill_after = kill_after

    def __call__(self, task, callbacks=()):
        self.calls.append(task)
        if self.kill_after is not None and len(self.calls) > self.kill_after and task.start_model:
            raise KeyboardInterrupt  # killed in the middle of a halving, rung 0 done
        base = fake_fitness(task.genes)
        curve = [round(base * (1 - 0.5 / (e + 1)), 6) for e in range(task.epochs)]
        return Evaluation(
            task.key,
            list(task.genes),
            curve[-1],
            "ok",
            epochs=task.epochs - task.initial_epoch,
            val_accuracy=curve[task.initial_epoch :],
            model_path=task.model_path,
        )


def _search(tmp_path, fake, monkeypatch, *, resume=False, max_evaluations=None, **settings):
    monkeypatch.setattr("automl_kit.search.base.evaluate", fake)
    options = dict(population=4, generations=1, max_phases=1, epochs_per_eval=2, seed=0)
    options.update(successive_halving=2, verbose=0)
    options.update(settings)
    ga = VariableLengthGA(tiny_space(), **options)
    x, y = _tiny_xy()
    result = ga.search(
        x,
        y,
        validation_data=(x, y),
        run_dir=tmp_path / "run",
        resume=resume,
        max_evaluations=max_evaluations,
    )
    return ga, result


def _tiny_xy():
    rng = np.random.default_rng(0)
    return rng.random((20, 8, 8, 1), dtype=np.float32), np.arange(20) % 2


def _records(tmp_path):
    lines = (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_rungs_follow_hyperband():
    assert halving_rungs(2, 2) == [1, 2]
    assert halving_rungs(27, 3) == [1, 3, 9, 27]
    assert halving_rungs(1, 2) == [1]


def test_half_the_population_trains_the_full_epochs(tmp_path, monkeypatch):
    fake = RungEvaluate()
    ga, result = _search(tmp_path, fake, monkeypatch)
    records = _records(tmp_path)
    assert len(records) == 4  # one line per candidate, whatever its rung
    full = [r for r in records if r["rung"] == 1]
    low = [r for r in records if r["rung"] == 0]
    assert len(full) == 2 and len(low) == 2
    assert all(r["epochs"] == 2 and r["cost"] == 1.0 and len(r["val_accuracy"]) == 2 for r in full)
    assert all(r["epochs"] == 1 and r["cost"] == 0.5 for r in low)
    assert all("stopped at rung 0 (1 of 2 epochs)" in r["reason"] for r in low)
    # the continued ones were the best at rung 0, and continued from their rung model
    assert min(r["val_accuracy"][0] for r in full) >= max(r["val_accuracy"][0] for r in low)
    continued = [t for t in fake.calls if t.start_model]
    assert sorted(t.key for t in continued) == sorted(r["key"] for r in full)
    assert all(t.initial_epoch == 1 and t.epochs == 2 and t.parent_model is None for t in continued)
    # the count is the training done: 2 full + 2 halves
    assert result.evaluations == ga.evaluation_count == 3.0
    assert result.best.cost == 1.0 and {r["rung"] for r in result.history} == {0, 1}


def test_a_lone_candidate_trains_the_full_epochs_at_once(tmp_path, monkeypatch):
    fake = RungEvaluate()
    _search(tmp_path, fake, monkeypatch, population=2)  # 2 candidates: 1 continues
    assert [(t.initial_epoch, t.epochs) for t in fake.calls] == [(0, 1), (0, 1), (1, 2)]
    fake.calls.clear()
    ga = VariableLengthGA(tiny_space(), epochs_per_eval=4, successive_halving=2, verbose=0)
    ga._executor, ga.budget = _Serial(), ga.budget.start()
    task = EvalTask("k", [], {}, epochs=4, batch_size=1, learning_rate=0.1, seed=0)
    (alone,) = ga._successive_halving([task], fake)
    assert [(t.initial_epoch, t.epochs) for t in fake.calls] == [(0, 4)]
    assert (alone.rung, alone.cost, alone.epochs) == (2, 1.0, 4)


class _Serial:
    @staticmethod
    def imap_unordered(fn, tasks):
        return ((t, fn(t)) for t in tasks)


def test_evaluation_budget_counts_the_share_trained(tmp_path, monkeypatch):
    fake = RungEvaluate()
    _, result = _search(
        tmp_path, fake, monkeypatch, max_evaluations=5, generations=4, max_phases=None
    )
    assert 4 <= result.evaluations <= 5  # never more than the budget, at most one evaluation left
    assert "evaluation budget of 5 spent" in result.stop_reason
    assert sum(r["cost"] for r in _records(tmp_path)) == result.evaluations


def test_interrupted_halving_resumes_to_the_unbroken_result(tmp_path, monkeypatch):
    _, unbroken = _search(tmp_path / "a", RungEvaluate(), monkeypatch, generations=2)
    with pytest.raises(KeyboardInterrupt):  # killed at the first continuation of generation 2
        _search(tmp_path / "b", RungEvaluate(kill_after=6), monkeypatch, generations=2)
    done = _records(tmp_path / "b")
    assert len(done) == 4  # generation 1 only: the halving is recorded as a whole
    _, resumed = _search(tmp_path / "b", RungEvaluate(), monkeypatch, generations=2, resume=True)
    strip = ("seconds", "model_path")
    assert [{k: v for k, v in r.items() if k not in strip} for r in _records(tmp_path / "b")] == [
        {k: v for k, v in r.items() if k not in strip} for r in _records(tmp_path / "a")
    ]
    assert resumed.best.fitness == unbroken.best.fitness


def test_config_round_trip_and_resume_check(tmp_path, monkeypatch):
    ga = VariableLengthGA(tiny_space(), epochs_per_eval=3, successive_halving=3)
    assert ga.get_config()["successive_halving"] == 3
    assert VariableLengthGA.from_config(ga.get_config()).successive_halving == 3
    _search(tmp_path, RungEvaluate(), monkeypatch)
    with pytest.raises(ValueError, match="successive_halving differ"):
        _search(tmp_path, RungEvaluate(), monkeypatch, resume=True, successive_halving=None)


@pytest.mark.parametrize("eta", [1, 0, 2.5, True, "2"])
def test_bad_eta_is_refused(eta):
    with pytest.raises(ValueError, match="successive_halving"):
        VariableLengthGA(tiny_space(), successive_halving=eta)


def test_eta_above_the_epochs_is_refused():
    with pytest.raises(ValueError, match="epochs_per_eval >= 3"):
        VariableLengthGA(tiny_space(), epochs_per_eval=2, successive_halving=3)


@pytest.mark.slow  # three real trainings: about 15 s on one core
def test_continued_training_is_the_rest_of_a_one_go_training(tmp_path, digits_small):
    """Rung 0 then a continuation trains what one run of the full epochs trains.

    The first epoch is identical (same seed); the continuation restores weights and optimizer
    state (Adam's moments and step count), so the model has taken every step of a one-go run.
    Its later shuffles come from its own seed, so later epochs match in distribution, not bit
    for bit.
    """
    set_worker_data(
        digits_small.x_train[:100], digits_small.y_train[:100], *digits_small.validation_data
    )
    space = tiny_space()
    task = EvalTask(
        key="k",
        genes=space.random_genes(1, random.Random(0)),
        space_config=space.get_config(),
        epochs=2,
        batch_size=50,
        learning_rate=1e-3,
        seed=0,
        model_path=str(tmp_path / "one_go.keras"),
    )
    one_go = evaluate(task)
    rung = str(tmp_path / "rung.keras")
    first = evaluate(dataclasses.replace(task, epochs=1, model_path=rung))
    rest = evaluate(dataclasses.replace(task, start_model=rung, initial_epoch=1, model_path=rung))
    assert first.val_accuracy == one_go.val_accuracy[:1]
    assert rest.status == "ok" and rest.epochs == 1 and len(rest.val_accuracy) == 1
    steps = [
        int(keras.models.load_model(p).optimizer.iterations.numpy())
        for p in (rung, task.model_path)
    ]
    assert steps == [4, 4]  # 2 epochs of 2 batches each, in both
