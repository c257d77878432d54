"""Helpers for search tests: a tiny space, tiny data and a fake fitness for fast GA logic tests."""

from __future__ import annotations

import numpy as np
import pytest

from automl_kit.search import CNNSpace
from automl_kit.search._evaluation import Evaluation


def tiny_space() -> CNNSpace:
    return CNNSpace(channels=(4, 8), kernels=(1, 3), activations=("relu", "tanh"))


@pytest.fixture(scope="session")
def digits_small():
    from automl_kit.datasets import load

    return load("digits", n_train=300, n_val=100, seed=0)


def fake_fitness(genes) -> float:
    """A deterministic stand-in for training: wider and deeper scores higher."""
    numbers = [g for g in genes if isinstance(g, int) and not isinstance(g, bool)]
    return round(min(0.99, 0.1 + 0.001 * sum(numbers) + 0.05 * len(genes) / 10), 6)


class FakeEvaluate:
    """Replaces ``automl_kit.search._run.evaluate``; counts calls and never trains."""

    def __init__(self):
        self.calls = []

    def __call__(self, task, callbacks=()):
        if task.deadline is not None:
            import time

            if time.time() > task.deadline:
                return Evaluation(task.key, task.genes, 0.0, "skipped")
        self.calls.append(task)
        return Evaluation(
            task.key,
            list(task.genes),
            fake_fitness(task.genes),
            "ok",
            epochs=task.epochs,
            val_accuracy=[fake_fitness(task.genes)],
            model_path=task.model_path,
        )


@pytest.fixture
def fake_evaluate(monkeypatch):
    fake = FakeEvaluate()
    monkeypatch.setattr("automl_kit.search._run.evaluate", fake)
    return fake


@pytest.fixture
def table_data():
    rng = np.random.default_rng(0)
    return rng.random((40, 5), dtype=np.float32), rng.integers(0, 2, 40)


def run_tiny_search(run_dir, resume=False, **settings):
    """A real (training) search small enough for tests; used in-process and in a killed subprocess.

    ``settings`` override the ``VariableLengthGA`` arguments (executor, generations, ...).
    """
    from automl_kit.datasets import load
    from automl_kit.search import VariableLengthGA

    data = load("digits", n_train=200, n_val=100, seed=0)
    options = dict(
        population=4,
        generations=2,
        max_phases=2,
        epochs_per_eval=1,
        batch_size=50,
        seed=0,
        verbose=0,
    )
    ga = VariableLengthGA(tiny_space(), **{**options, **settings})
    return ga.search(
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        run_dir=run_dir,
        resume=resume,
    )
