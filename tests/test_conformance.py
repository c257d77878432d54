"""Every capability's main classes pass the conformance suite of docs/architecture.md.

A new capability adds its classes to the tables below; the checks live in
``automl_kit.testing.conformance``.
"""

from __future__ import annotations

import numpy as np
import pytest

from automl_kit.registries import POLICIES, SEARCHERS
from automl_kit.testing import (
    check_config_round_trip,
    check_rejects,
    check_result_contract,
    check_seeded_determinism,
)
from tests.search.conftest import fake_evaluate, tiny_space  # noqa: F401  (fixture)

X = np.random.default_rng(0).random((20, 8, 8, 1)).astype("float32")
Y = np.arange(20) % 2
PEERS = {"keras_tuner_random", "keras_tuner_bayesian", "keras_tuner_hyperband", "optuna_tpe"}


def _searcher(name: str, seed: int = 0):
    if name in PEERS:
        pytest.importorskip("optuna" if name == "optuna_tpe" else "keras_tuner")
    return SEARCHERS.get(name)(tiny_space(), seed=seed, verbose=0)


def _search(name: str, run_dir, seed: int = 0):
    return _searcher(name, seed).search(
        X, Y, validation_data=(X, Y), run_dir=run_dir, max_evaluations=6
    )


# ---------------------------------------------------------------------------------- search
@pytest.mark.parametrize("name", SEARCHERS.names())
def test_searcher_config_round_trips(name):
    check_config_round_trip(_searcher(name))


@pytest.mark.parametrize("name", SEARCHERS.names())
def test_searcher_same_seed_same_search(name, tmp_path, fake_evaluate):
    def run(seed):
        result = _search(name, tmp_path / f"run{len(list(tmp_path.iterdir()))}", seed)
        return [(row["genes"], row["fitness"]) for row in result.history]

    assert check_seeded_determinism(run), "the search evaluated nothing"


@pytest.mark.parametrize("name", SEARCHERS.names())
def test_searcher_rejects_bad_input(name, tmp_path):
    searcher = _searcher(name)
    check_rejects(
        lambda: searcher.search(X, Y[:-1], validation_data=(X, Y), run_dir=tmp_path / "a"),
        "length|samples",
    )
    check_rejects(
        lambda: searcher.search(X, Y, validation_data=None, run_dir=tmp_path / "b"),
        "validation_data",
        error=(ValueError, TypeError),
    )
    check_rejects(
        lambda: searcher.search(
            X, Y + 1, validation_data=(X, Y + 1), run_dir=tmp_path / "c", max_evaluations=2
        ),
        "label",
    )


@pytest.mark.parametrize("name", SEARCHERS.names())
def test_search_result_summary_and_save(name, tmp_path, fake_evaluate):
    result = _search(name, tmp_path / "run")
    summary = check_result_contract(result, tmp_path / "saved")
    assert summary["best_fitness"] == pytest.approx(result.best_fitness)


# -------------------------------------------------------------------------------- freezing
@pytest.mark.parametrize("name", POLICIES.names())
def test_policy_config_round_trips(name):
    check_config_round_trip(POLICIES.get(name)())


def _train(seed: int, run_dir=None):
    import keras

    from automl_kit.freezing import FreezingTrainer
    from tests.freezing.conftest import tiny_cnn

    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = np.arange(64) % 3
    trainer = FreezingTrainer(
        tiny_cnn(3, seed=seed), keras.optimizers.SGD(0.05, momentum=0.9), policy=POLICIES.get("freezeout")()
    )
    trainer.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y), verbose=0)
    return trainer


def test_freezing_trainer_same_seed_same_weights():
    check_seeded_determinism(
        lambda seed: [w.tolist() for w in _train(seed).model.get_weights()][-2:]
    )


def test_freezing_trainer_rejects_bad_input():
    import keras

    from automl_kit.freezing import FreezingTrainer
    from tests.freezing.conftest import tiny_cnn

    trainer = FreezingTrainer(tiny_cnn(3), keras.optimizers.SGD(0.05))
    x = np.zeros((8, 8, 8, 1), "float32")
    check_rejects(lambda: trainer.fit(x, np.arange(8) % 3, epochs=0), "epochs")
    check_rejects(lambda: trainer.fit(x, np.arange(8), epochs=1), "label|class")


def test_freezing_result_summary_and_save(tmp_path):
    summary = check_result_contract(_train(0), tmp_path)
    assert summary["policy"]["name"] == "freezeout"
