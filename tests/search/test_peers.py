"""KerasTuner and Optuna drive the same space through the Searcher machinery, and resume for real."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip(
    "keras_tuner", reason="peers need the benchmarks extra: pip install -e '.[benchmarks]'"
)
optuna = pytest.importorskip(
    "optuna", reason="peers need the benchmarks extra: pip install -e '.[benchmarks]'"
)

from automl_kit.search.peers import (  # noqa: E402
    KerasTunerBayesian,
    KerasTunerHyperband,
    KerasTunerRandom,
    OptunaTPE,
)
from automl_kit.testing import check_config_round_trip  # noqa: E402
from automl_kit.utils.interrupt import Interrupted, graceful_interrupt, request_stop  # noqa: E402
from tests.search.conftest import fake_fitness, tiny_space  # noqa: E402

X = np.zeros((20, 8, 8, 1), np.float32)
Y = np.arange(20) % 2
PEERS = [KerasTunerRandom, KerasTunerBayesian, KerasTunerHyperband, OptunaTPE]


def _search(searcher, run_dir, **kwargs):
    return searcher.search(X, Y, validation_data=(X, Y), run_dir=run_dir, **kwargs)


def _evaluations(run_dir) -> list[dict]:
    lines = (run_dir / "evaluations.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _trace(calls) -> list:
    return [(t.genes, t.epochs, t.parent_model) for t in calls]


@pytest.mark.parametrize("cls", [KerasTunerRandom, KerasTunerBayesian, OptunaTPE])
def test_peer_proposes_valid_variable_depth_chromosomes(cls, tmp_path, fake_evaluate):
    space = tiny_space()
    searcher = cls(space, max_blocks=4, seed=0, verbose=0)
    result = _search(searcher, tmp_path / "run", max_evaluations=12)
    blocks = {space.n_blocks(t.genes) for t in fake_evaluate.calls}
    assert len(fake_evaluate.calls) == 12 and blocks <= {1, 2, 3, 4} and len(blocks) >= 2
    for task in fake_evaluate.calls:
        space.validate(task.genes)
    # the best is the best of what was trained (the log on disk), and its fitness is its genes'
    logged = [e for e in _evaluations(tmp_path / "run") if e["status"] == "ok"]
    assert len(logged) == 12
    assert result.best_fitness == max(e["fitness"] for e in logged)
    assert result.best_fitness == fake_fitness(result.best_genes)
    assert result.best_genes in [t.genes for t in fake_evaluate.calls]


def test_hyperband_continues_trials_from_their_previous_round(tmp_path, fake_evaluate):
    searcher = KerasTunerHyperband(tiny_space(), max_blocks=3, epochs_per_eval=9, seed=0, verbose=0)
    _search(searcher, tmp_path / "run", max_evaluations=15)
    epochs = [t.epochs for t in fake_evaluate.calls]
    assert min(epochs) < 9  # Hyperband starts with small budgets
    continued = [t for t in fake_evaluate.calls if t.parent_model]
    assert continued and all(t.inherit_head for t in continued)


@pytest.mark.parametrize("cls", [KerasTunerRandom, KerasTunerBayesian, KerasTunerHyperband])
def test_keras_tuner_resume_continues_the_oracle_like_an_unbroken_search(
    cls, tmp_path, fake_evaluate
):
    settings = dict(max_blocks=3, epochs_per_eval=9, seed=0, verbose=0)
    _search(cls(tiny_space(), **settings), tmp_path / "unbroken", max_evaluations=8)
    unbroken = _trace(fake_evaluate.calls)
    fake_evaluate.calls.clear()

    first = _search(cls(tiny_space(), **settings), tmp_path / "run", max_evaluations=4)
    before = _trace(fake_evaluate.calls)
    fake_evaluate.calls.clear()
    resumed_searcher = cls(tiny_space(), **settings)
    resumed = _search(
        resumed_searcher, tmp_path / "run", max_evaluations=8, resume=True, extend=True
    )

    assert len(before) == 4 and len(fake_evaluate.calls) == 4  # only the new ones are trained
    strip = lambda trace, root: [(g, e, p and p.replace(str(root), "")) for g, e, p in trace]  # noqa: E731
    assert strip(before + _trace(fake_evaluate.calls), tmp_path / "run") == strip(
        unbroken, tmp_path / "unbroken"
    )
    oracle = resumed_searcher.oracle
    assert len(oracle.end_order) >= 4
    assert [int(i) for i in oracle.end_order[: len(first.history)]] == [
        r["generation"] for r in first.history
    ]  # the reloaded oracle holds the first search's trials
    assert resumed.history[: len(first.history)] == first.history  # the history continues
    assert len(resumed.history) > len(first.history)


@pytest.mark.parametrize("cls", [KerasTunerRandom, OptunaTPE])
def test_a_peer_stopped_by_ctrl_c_resumes_without_training_the_cut_trial_again(
    cls, tmp_path, fake_evaluate, monkeypatch
):
    settings = dict(max_blocks=3, seed=0, verbose=0)
    _search(cls(tiny_space(), **settings), tmp_path / "unbroken", max_evaluations=6)
    unbroken = [t.genes for t in fake_evaluate.calls]
    fake_evaluate.calls.clear()

    def stop_at_third(task, callbacks=()):
        evaluation = fake_evaluate(task, callbacks)
        if len(fake_evaluate.calls) == 3:
            request_stop()  # Ctrl-C while the third trial trains: stops once it is logged
        return evaluation

    monkeypatch.setattr("automl_kit.search._run.evaluate", stop_at_third)
    with graceful_interrupt(), pytest.raises(Interrupted):
        _search(cls(tiny_space(), **settings), tmp_path / "run", max_evaluations=6)
    assert len(fake_evaluate.calls) == 3 and len(_evaluations(tmp_path / "run")) == 3
    monkeypatch.setattr("automl_kit.search._run.evaluate", fake_evaluate)
    with graceful_interrupt():
        resumed = _search(
            cls(tiny_space(), **settings), tmp_path / "run", max_evaluations=6, resume=True
        )
    trained = [t.genes for t in fake_evaluate.calls]
    assert len(trained) == 6 and len({json.dumps(g) for g in trained}) == 6  # none twice
    assert resumed.evaluations == 6 and len(_evaluations(tmp_path / "run")) == 6
    if cls is KerasTunerRandom:  # the reloaded oracle goes on exactly as an unbroken one
        assert trained == unbroken
    else:  # Optuna asks the cut trial again (served from the log), then samples on
        assert trained[:3] == unbroken[:3]


def test_optuna_resume_continues_the_study_from_its_storage(tmp_path, fake_evaluate):
    settings = dict(max_blocks=3, seed=0, verbose=0)
    first = _search(OptunaTPE(tiny_space(), **settings), tmp_path / "run", max_evaluations=2)
    first_calls = list(fake_evaluate.calls)
    fake_evaluate.calls.clear()
    searcher = OptunaTPE(tiny_space(), **settings)
    resumed = _search(searcher, tmp_path / "run", max_evaluations=4, resume=True, extend=True)

    assert len(first_calls) == 2 and len(fake_evaluate.calls) == 2
    study = optuna.load_study(
        study_name="automl_kit", storage=f"sqlite:///{tmp_path}/run/optuna.db"
    )
    assert len(study.trials) == 4 and len(searcher.study.trials) == 4
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert [t.value for t in study.trials[:2]] == [fake_fitness(t.genes) for t in first_calls]
    assert resumed.history[:2] == first.history and len(resumed.history) == 4
    assert len(_evaluations(tmp_path / "run")) == 4


def test_optuna_asks_again_for_a_trial_the_budget_cut_short(tmp_path, fake_evaluate):
    run_dir = tmp_path / "run"
    _search(OptunaTPE(tiny_space(), max_blocks=3, seed=0, verbose=0), run_dir, max_evaluations=2)
    storage = f"sqlite:///{run_dir}/optuna.db"
    study = optuna.load_study(study_name="automl_kit", storage=storage)
    cut = study.ask({"blocks": optuna.distributions.IntDistribution(1, 3)})  # asked, never told
    blocks = cut.params["blocks"]
    fake_evaluate.calls.clear()
    _search(
        OptunaTPE(tiny_space(), max_blocks=3, seed=0, verbose=0),
        run_dir,
        max_evaluations=3,
        resume=True,
        extend=True,
    )
    study = optuna.load_study(study_name="automl_kit", storage=storage)
    states = [t.state for t in study.trials]
    assert states[cut.number] == optuna.trial.TrialState.FAIL
    assert states[-1] == optuna.trial.TrialState.COMPLETE
    assert study.trials[-1].params["blocks"] == blocks  # the same candidate, asked again
    assert len(fake_evaluate.calls) == 1


@pytest.mark.parametrize(
    "cls, state", [(KerasTunerRandom, "keras_tuner"), (OptunaTPE, "optuna.db")]
)
def test_resume_without_the_tuner_state_is_refused(cls, state, tmp_path, fake_evaluate):
    run_dir = tmp_path / "run"
    _search(cls(tiny_space(), max_blocks=3, seed=0, verbose=0), run_dir, max_evaluations=2)
    target = run_dir / state
    shutil.rmtree(target) if target.is_dir() else target.unlink()  # as a run made before this fix
    with pytest.raises(ValueError, match="cannot resume .* holds no .*Start a new run directory"):
        _search(
            cls(tiny_space(), max_blocks=3, seed=0, verbose=0),
            run_dir,
            max_evaluations=4,
            resume=True,
            extend=True,
        )


@pytest.mark.parametrize("cls", PEERS)
def test_peer_config_round_trips(cls):
    searcher = cls(tiny_space(), max_blocks=3, seed=4, epochs_per_eval=2, verbose=0)
    check_config_round_trip(searcher)
    again = cls.from_config(searcher.get_config())
    assert (
        again.max_blocks == 3
        and again.seed == 4
        and again.space.get_config() == (tiny_space().get_config())
    )


def test_peer_refuses_a_bad_depth_bound_and_another_algorithm_s_config():
    with pytest.raises(ValueError, match="max_blocks"):
        KerasTunerRandom(tiny_space(), max_blocks=0)
    config = OptunaTPE(tiny_space(), seed=1).get_config()
    with pytest.raises(ValueError, match="'optuna_tpe' search, not 'keras_tuner_random'"):
        KerasTunerRandom.from_config(config)


@pytest.mark.parametrize("cls", [KerasTunerRandom, OptunaTPE])
def test_best_model_file_scores_the_best_fitness_on_validation_data(cls, tmp_path, digits_small):
    import keras

    data = digits_small
    searcher = cls(tiny_space(), max_blocks=2, epochs_per_eval=1, batch_size=50, seed=0, verbose=0)
    result = searcher.search(
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        run_dir=tmp_path / "run",
        max_evaluations=2,
    )
    logged = [e for e in _evaluations(tmp_path / "run") if e["status"] == "ok"]
    assert result.best_fitness == max(e["fitness"] for e in logged)
    model = keras.models.load_model(result.best.model_path)
    _, accuracy = model.evaluate(data.x_val, data.y_val, verbose=0)
    assert accuracy == pytest.approx(result.best_fitness, abs=1e-6)
