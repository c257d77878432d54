"""KerasTuner and Optuna drive the same space through the Searcher machinery (fake fitness)."""

import numpy as np
import pytest

pytest.importorskip(
    "keras_tuner", reason="peers need the benchmarks extra: pip install -e '.[benchmarks]'"
)
pytest.importorskip(
    "optuna", reason="peers need the benchmarks extra: pip install -e '.[benchmarks]'"
)

from automl_kit.search.peers import (
    KerasTunerBayesian,
    KerasTunerHyperband,
    KerasTunerRandom,
    OptunaTPE,
)  # noqa: E402
from tests.search.conftest import tiny_space  # noqa: E402

X = np.zeros((20, 8, 8, 1), np.float32)
Y = np.arange(20) % 2


@pytest.mark.parametrize("cls", [KerasTunerRandom, KerasTunerBayesian, OptunaTPE])
def test_peer_proposes_valid_variable_depth_chromosomes(cls, tmp_path, fake_evaluate):
    space = tiny_space()
    searcher = cls(space, max_blocks=4, seed=0, quiet=True)
    result = searcher.search(
        X, Y, validation_data=(X, Y), run_dir=tmp_path / "run", max_evaluations=12
    )
    blocks = {space.n_blocks(t.genes) for t in fake_evaluate.calls}
    assert len(fake_evaluate.calls) == 12 and blocks <= {1, 2, 3, 4} and len(blocks) >= 2
    for task in fake_evaluate.calls:
        space.validate(task.genes)
    assert result.best_fitness == max(r["fitness"] for r in result.history)


def test_hyperband_continues_trials_from_their_previous_round(tmp_path, fake_evaluate):
    searcher = KerasTunerHyperband(
        tiny_space(), max_blocks=3, epochs_per_eval=9, seed=0, quiet=True
    )
    searcher.search(X, Y, validation_data=(X, Y), run_dir=tmp_path / "run", max_evaluations=15)
    epochs = [t.epochs for t in fake_evaluate.calls]
    assert min(epochs) < 9  # Hyperband starts with small budgets
    continued = [t for t in fake_evaluate.calls if t.parent_model]
    assert continued and all(t.inherit_head for t in continued)
