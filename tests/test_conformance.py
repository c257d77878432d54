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
    check_result_round_trip,
    check_seeded_determinism,
)
from tests.search.conftest import tiny_space

X = np.random.default_rng(0).random((20, 8, 8, 1)).astype("float32")
Y = np.arange(20) % 2
PEERS = {"keras_tuner_random", "keras_tuner_bayesian", "keras_tuner_hyperband", "optuna_tpe"}


def _trained_mlp(data, *, hidden: int | None, epochs: int):
    """A small Keras classifier trained on ``data`` (a hidden layer named ``hidden``, or none)."""
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input(data.input_shape), keras.layers.Flatten()]
    if hidden:
        layers.append(keras.layers.Dense(hidden, activation="relu", name="hidden"))
    layers.append(keras.layers.Dense(data.num_classes, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data.x_train, data.y_train, epochs=epochs, verbose=0)
    return model


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
def test_searcher_declares_the_options_it_takes(name):
    """``options`` (what ``evolve`` accepts for this algorithm) are constructor keywords."""
    import inspect

    cls = SEARCHERS.get(name)
    keywords = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            keywords |= set(inspect.signature(klass.__init__).parameters)
    from automl_kit.search._cli import ALGORITHM_OPTIONS

    assert cls.options <= keywords, f"{name} declares options it does not take"
    taken = keywords & set(ALGORITHM_OPTIONS.values())
    assert taken <= cls.options, f"{name} takes {taken - cls.options} but does not declare them"


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
    # a finished search's own folder loads back as the same result
    loaded = check_result_round_trip(result, result.run.root)
    assert loaded.best_genes == result.best_genes and loaded.history == result.history


def test_evolve_job_result_round_trips(tmp_path):
    """``search.evolve`` (what ``automl-kit evolve`` runs): search, final fit, test score."""
    from automl_kit import datasets
    from automl_kit.search import RandomSearch, evolve

    data = datasets.load("digits", n_train=200, seed=0)
    searcher = RandomSearch(tiny_space(), epochs_per_eval=1, seed=0, verbose=0)
    result = evolve(
        data,
        searcher,
        max_evaluations=1,
        final_epochs=1,
        rival="none",  # the rival's round trip is tested in tests/search
        run_dir=tmp_path / "run",
        verbose=0,
    )
    assert 0 <= result.final.test_accuracy <= 1 and result.summary()["final_fit_epochs"] == 1
    loaded = check_result_round_trip(result, result.run.root)
    assert loaded.final.test_accuracy == result.final.test_accuracy


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
        tiny_cnn(3, seed=seed),
        keras.optimizers.SGD(0.05, momentum=0.9),
        policy=POLICIES.get("freezeout")(),
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


@pytest.mark.parametrize("policy", POLICIES.names())
def test_train_job_result_round_trips(policy, tmp_path):
    """``freezing.train`` (what ``automl-kit train`` runs) with every registered policy."""
    from automl_kit import datasets
    from automl_kit.freezing import TrainResult, train

    data = datasets.load("digits", n_train=200, seed=0)
    result = train(data, "vgg11", policy=policy, width=0.125, epochs=2, verbose=0)
    assert isinstance(result, TrainResult) and 0 <= result.test_accuracy <= 1
    loaded = check_result_round_trip(result, tmp_path / "saved")
    assert [w.shape for w in loaded.model.get_weights()] == [
        w.shape for w in result.model.get_weights()
    ]


def test_freezing_result_summary_and_save(tmp_path):
    summary = check_result_contract(_train(0), tmp_path)
    assert summary["policy"]["name"] == "freezeout"


# -------------------------------------------------------------------------------- diagnose
def _digits_noisy(seed: int = 0):
    from automl_kit import datasets
    from automl_kit.diagnose import flip_labels

    data = datasets.load("digits", n_train=300, n_val=100, seed=0)
    noisy, _ = flip_labels(data.y_train, 0.1, seed=seed)
    return data, noisy


def test_diagnosis_summary_and_save(tmp_path):
    from automl_kit.diagnose import decompose_errors

    d = decompose_errors(0.035, 0.078, human_level_error=0.007, bayes_error=0.005)
    summary = check_result_contract(d, tmp_path)
    assert summary["verdict"].startswith("high bias and high variance")
    assert (tmp_path / "report.html").is_file()


def test_diagnose_job_result_round_trips(tmp_path):
    """``diagnose.diagnose`` (what ``automl-kit diagnose`` runs): per-class reports included."""

    from automl_kit import datasets
    from automl_kit.diagnose import Diagnosis, diagnose

    data = datasets.load("digits", n_train=300, seed=0)
    model = _trained_mlp(data, hidden=None, epochs=2)
    result = diagnose(model, data, human_level_error=0.01)
    loaded = check_result_round_trip(result, tmp_path / "saved")
    assert isinstance(loaded, Diagnosis) and set(loaded.reports) == set(result.reports)
    assert loaded.reports["dev"].accuracy == pytest.approx(result.reports["dev"].accuracy)


def test_label_issues_same_seed_same_result_summary_and_save(tmp_path):
    from automl_kit.diagnose import find_label_issues

    data, noisy = _digits_noisy()
    issues = check_seeded_determinism(
        lambda seed: find_label_issues((data.x_train, noisy), seed=seed, cv=3).positions.tolist()
    )
    assert issues
    check_result_contract(find_label_issues((data.x_train, noisy), seed=0, cv=3), tmp_path)


def test_diagnose_rejects_bad_input():
    from automl_kit.diagnose import decompose_errors, find_label_issues, select_model

    check_rejects(lambda: decompose_errors(3.5, 0.078), r"write 0.035")
    check_rejects(lambda: find_label_issues((X, Y), filter_by="magic"), "filter_by")
    check_rejects(lambda: select_model({}, (X, Y)), "non-empty")


def test_selection_summary_and_save(tmp_path):
    from automl_kit.diagnose import choose

    selection = choose({"a": {"accuracy": 0.9, "latency_ms": 50.0}}, satisfy={"latency_ms": 100})
    assert check_result_contract(selection, tmp_path)["chosen"] == "a"


def test_inverse_sqrt_schedule_config_round_trips():
    from automl_kit.training.optimizers import InverseSqrtDecay

    check_config_round_trip(InverseSqrtDecay(0.1, k=2.0, steps_per_epoch=5))


# -------------------------------------------------------------------------------- tweak
def _tweak_tables(seed: int = 0):
    from automl_kit.tweak import SynapticTables

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 90)
    V = np.maximum(rng.normal(size=(12, 90)), 0).astype("float32")
    C = (rng.normal(size=(3, 90)) + 1.5 * np.eye(3)[y].T).astype("float32")
    C[0] -= 0.7  # a weak class to tweak
    return SynapticTables([V], C, y, [("h", 12)])


def test_tweak_configs_round_trip():
    from automl_kit.tweak import (
        ActiveNeuronAugmentation,
        PriorCalibration,
        SynapticJoin,
        SynapticRetraining,
    )

    check_config_round_trip(SynapticJoin(targets=[2, 0], n_candidates=[1, 4], max_drop=0.01))
    check_config_round_trip(PriorCalibration([1, 2], mu_candidates=[1, 3], max_drop=0.002))
    check_config_round_trip(SynapticRetraining([1], join_options={"n_candidates": [2]}, seed=3))
    check_config_round_trip(ActiveNeuronAugmentation(n_active=5, hidden=4, seed=2))


def test_tweak_same_seed_same_result_summary_and_save(tmp_path):
    from automl_kit.tweak import (
        ActiveNeuronAugmentation,
        PriorCalibration,
        SynapticJoin,
        SynapticRetraining,
    )

    t = _tweak_tables()
    opts = {"n_candidates": [1, 3], "scale_candidates": [1, 2]}
    join = check_seeded_determinism(lambda seed: SynapticJoin([0], **opts).fit(t).summary())
    assert join["n"] in (1, 3)
    check_seeded_determinism(
        lambda seed: SynapticRetraining([0], join_options=opts, epochs=1, seed=seed).fit(t).weights_
    )
    check_seeded_determinism(
        lambda seed: (
            ActiveNeuronAugmentation(n_active=4, hidden=3, epochs=1, seed=seed).fit(t).mlp_weights_
        )
    )
    check_result_contract(SynapticJoin([0], **opts).fit(t), tmp_path / "join")
    check_result_contract(PriorCalibration([0]).fit(t), tmp_path / "calibration")
    check_result_contract(
        SynapticRetraining([0], join_options=opts, epochs=1).fit(t), tmp_path / "rt"
    )
    check_result_contract(
        ActiveNeuronAugmentation(n_active=4, hidden=3, epochs=1).fit(t), tmp_path / "aan"
    )


def test_tweak_job_result_round_trips(tmp_path):
    """``tweak.tweak`` (what ``automl-kit tweak`` runs) on a small trained model."""

    from automl_kit import datasets
    from automl_kit.tweak import TweakResult, tweak

    data = datasets.load("digits", n_train=300, seed=0)
    model = _trained_mlp(data, hidden=16, epochs=3)
    result = tweak(model, data, [3], n_candidates=(1, 2), scale_candidates=(1, 5))
    assert isinstance(result, TweakResult) and result.n in (1, 2)
    assert len(result.per_class_after) == data.num_classes
    loaded = check_result_round_trip(result, tmp_path / "saved")
    assert loaded.synapses == result.synapses


def test_tweak_rejects_bad_input():
    from automl_kit.tweak import SynapticJoin, theta

    t = _tweak_tables()
    check_rejects(lambda: SynapticJoin([5]).fit(t), "out of range")
    check_rejects(lambda: SynapticJoin([0], n_candidates=[0]), "positive")
    check_rejects(lambda: SynapticJoin([0]).fit(t, validation_data=(X, Y)), "SynapticTables")
    check_rejects(
        lambda: theta(np.zeros((2, 5)), t.C, t.labels, t.predicted, t.max_values), "same samples"
    )


# -------------------------------------------------------------------------------- capacity
def _capacity_objects():
    from automl_kit.capacity import GrowthController, PartialConv2D, PartialDense

    return [
        PartialDense(10, chunks=5, active=3, frozen=1, activation="relu", flatten=True),
        PartialConv2D(8, 3, chunks=4, active=2, frozen=2, padding="same", strides=2),
        GrowthController(patience=4, step=2, freeze=False, start="net2net", interval=3),
        GrowthController(per_layer=True, unfreeze=True, start="gradmax", probe=(X, Y)),
        GrowthController(every=50, start={"name": "gradmax", "scale": 0.5}),
    ]


@pytest.mark.parametrize("index", range(5))
def test_capacity_config_round_trips(index):
    check_config_round_trip(_capacity_objects()[index])


def _grow(seed: int):
    import keras

    from automl_kit.capacity import GrowthController, partial_mlp

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True))
    model = partial_mlp(3, 1, hidden=(12,), chunks=3, active=1, seed=seed)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    controller = GrowthController(patience=2, smoothing=0.0)
    keras.utils.set_random_seed(seed)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[controller])
    return {"weights": [w.tolist() for w in model.get_weights()], "schedule": controller.schedule}


def test_capacity_same_seed_same_growth_and_weights():
    result = check_seeded_determinism(_grow)
    assert len(result["schedule"]) > 1, "the tiny run never grew: the check would be empty"


@pytest.mark.parametrize("method", ["static_small", "adaptive"])
def test_grow_job_result_round_trips(method, tmp_path):
    """``capacity.grow`` (what ``automl-kit grow`` runs): a static and a growing net."""
    from automl_kit.capacity import GrowthResult, grow

    result = grow("sine", method, epochs=2, width=20, chunks=2, n_train=128, interval=1, verbose=0)
    assert isinstance(result, GrowthResult) and (result.schedule is None) == (method != "adaptive")
    loaded = check_result_round_trip(result, tmp_path / "saved")
    assert loaded.metrics["final10_mean"] == pytest.approx(result.metrics["final10_mean"])
    if method == "adaptive":
        assert (tmp_path / "saved" / "capacity_schedule.csv").is_file()
        assert (tmp_path / "saved" / "capacity.png").is_file()


def test_capacity_rejects_bad_input():
    from automl_kit.capacity import GrowthController, PartialDense

    check_rejects(lambda: PartialDense(10, chunks=5, active=2, frozen=3), "frozen")
    check_rejects(lambda: PartialDense(10, chunks=5, active=6), "active width")
    check_rejects(lambda: GrowthController(step=0), "growth step")


# ------------------------------------------------------------------------------- knowledge
def _knowledge_objects():
    from automl_kit.knowledge import ClassGraphHead, KnowledgeMask

    adjacency = [[0.6, 0.4], [0.0, 1.0]]
    return [
        ClassGraphHead(adjacency, variant=1),
        ClassGraphHead(adjacency, variant=2, units_l=3, initializer="warm", use_bias=True),
        KnowledgeMask("deterministic", k=2),
        KnowledgeMask("stochastic", lam=0.9, seed=3),
    ]


@pytest.mark.parametrize("index", range(4))
def test_knowledge_config_round_trips(index):
    check_config_round_trip(_knowledge_objects()[index])


def _knowledge_run(seed: int):
    import keras

    from automl_kit.knowledge import KnowledgeMask, add_class_similarity_head

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Dense(3, activation="relu")(keras.layers.Flatten()(inputs))
    base = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    model = add_class_similarity_head(base, [[0.0, 0.5], [0.2, 0.0]], variant=2)
    distances = np.random.default_rng(seed).random((20, 2)).astype("float32")
    mask = KnowledgeMask("stochastic", lam=1.0, seed=seed)
    return {
        "scores": model.predict(X, verbose=0).round(6),
        "masks": [np.asarray(mask.knowledge_mask(distances, Y)) for _ in range(2)],
    }


def test_knowledge_same_seed_same_head_and_masks():
    check_seeded_determinism(_knowledge_run)


def test_knowledge_rejects_bad_input():
    from automl_kit.knowledge import ClassGraphHead, KnowledgeMask, graph_filter

    check_rejects(lambda: ClassGraphHead([[1.0, 0.0]]), "square")
    check_rejects(lambda: ClassGraphHead([[0.0]], variant=3), "variant must be 1")
    check_rejects(lambda: KnowledgeMask("stochastic", lam=2.0), "lam in")
    check_rejects(lambda: graph_filter(np.zeros((2, 2)), "sideways"), "unknown graph direction")
    mask = KnowledgeMask("deterministic", k=1)
    check_rejects(lambda: mask.knowledge_mask(np.zeros((1, 3)), np.array([5])), "outside 0..2")


# ------------------------------------------------------------------------------------- ehr
def _ehr_problem():
    from automl_kit.ehr import LayoutProblem, planted_relations

    return LayoutProblem.from_relations(planted_relations(12), n_neighbours=3)


def _ehr_objects():
    from automl_kit.ehr import EHRImageMapper
    from automl_kit.registries import LAYOUTS

    makers = [LAYOUTS.create(name, seed=1) for name in LAYOUTS.names()]
    return [*makers, EHRImageMapper(width=5, layout="igtd", layout_options={"max_steps": 9})]


@pytest.mark.parametrize("index", range(5))
def test_ehr_config_round_trips(index):
    check_config_round_trip(_ehr_objects()[index])


def test_ehr_same_seed_same_layout_and_images(tmp_path):
    from automl_kit.datasets import ehr_example
    from automl_kit.ehr import EHRImageMapper, PermutationGA

    problem = _ehr_problem()
    check_seeded_determinism(
        lambda seed: PermutationGA(population=8, generations=20, seed=seed).make(problem).history
    )
    check_seeded_determinism(
        lambda seed: EHRImageMapper(layout="random", seed=seed).fit_transform(ehr_example())
    )
    result = PermutationGA(population=8, generations=5).make(problem, run_dir=tmp_path / "ga")
    summary = check_result_contract(result, tmp_path / "saved")
    assert summary["generations"] == 5 and summary["n_features"] == 12


def test_ehr_rejects_bad_input():
    from automl_kit.ehr import CNNBoostedClassifier, EHRImageMapper, PermutationGA

    check_rejects(lambda: PermutationGA(population=2), "population")
    check_rejects(lambda: EHRImageMapper(layout="spiral"), "unknown layout")
    check_rejects(lambda: EHRImageMapper(layout="random").fit(np.zeros(3)), "EHRTables")
    check_rejects(
        lambda: CNNBoostedClassifier(n_windows=3).fit(np.ones((6, 4)), np.arange(6) % 2),
        "multiple of n_windows",
    )


def test_knowledge_two_stage_result_contract(tmp_path):
    from automl_kit.knowledge import base_cnn, compare_two_stage

    data = {k: X for k in ("x_train", "x_val", "x_test")}
    data.update({k: Y for k in ("y_train", "y_val", "y_test")})
    result = compare_two_stage(
        lambda: base_cnn((8, 8, 1), 2, hidden=4),
        data,
        heads=("none", "pkgcn1"),
        stage1_epochs=1,
        stage2_epochs=1,
        soft=True,
    )
    summary = check_result_contract(result, tmp_path)
    assert set(summary["heads"]) == {"none", "pkgcn1"}
    check_result_round_trip(result, tmp_path / "again")
    assert {p.name for p in tmp_path.iterdir()} >= {"accuracy.csv", "graph.json", "graph.png"}


@pytest.mark.parametrize("base", ["xgb", "cat"])
def test_boost_job_result_round_trips(base, tmp_path):
    """``ehr.boost`` (what ``automl-kit ehr`` runs), for each base whose model is saved."""
    from automl_kit.datasets import ehr_cohort
    from automl_kit.ehr import BoostResult, boost

    tables = ehr_cohort(240, n_dx=8, n_px=3, n_rx=6, positive_rate=0.25, seed=0)
    result = boost(tables, base=base, layout="random", cnn_epochs=1, verbose=0)
    assert isinstance(result, BoostResult) and len(result.rows) == 3
    loaded = check_result_round_trip(result, tmp_path / "saved")
    x_test, _ = loaded.mapper.to_X(tables)
    np.testing.assert_allclose(
        loaded.booster.predict_proba(x_test), result.booster.predict_proba(x_test), rtol=1e-5
    )


# ------------------------------------------------------------------------------------ auto
def test_auto_job_result_round_trips(tmp_path):
    """``auto.auto`` (what ``automl-kit auto`` runs): the floor of a tiny table, its tree and net."""
    from automl_kit import datasets
    from automl_kit.auto import AutoResult, auto

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype("float32")
    data = datasets.from_arrays(x, (x[:, 0] + x[:, 1] > 0).astype(int), name="t", seed=0)
    result = auto(data, time_budget="20s", steps=("floor",), run_dir=tmp_path / "run", verbose=0)
    loaded = check_result_round_trip(result, tmp_path / "saved")
    assert isinstance(loaded, AutoResult)
    np.testing.assert_allclose(loaded.predict_proba(data.x_test), result.predict_proba(data.x_test))
