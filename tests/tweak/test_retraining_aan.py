import keras
import numpy as np
import pytest

from automl_kit.tweak import (
    ActiveNeuronAugmentation,
    SynapticJoin,
    SynapticRetraining,
    extract_tables,
)


@pytest.fixture(scope="module")
def tables(small_model):
    model, (x, y), (xv, yv) = small_model
    return (
        model,
        extract_tables(model, x, y, layers=["relu", "hidden"]),
        extract_tables(model, xv, yv, layers=["relu", "hidden"]),
    )


def test_synaptic_retraining_trains_only_synapses(tables, tmp_path):
    model, train, val = tables
    target = int(np.argmin(train.accuracy()[1]))
    join = SynapticJoin(
        [target], n_candidates=[5, 20], scale_candidates=[1, 5, 20], max_drop=0.01
    ).fit(train, val)
    before = [w.copy() for w in model.get_weights()]
    rt = SynapticRetraining([target], epochs=3, learning_rate=0.01, seed=1).fit(
        train, val, join=join
    )
    assert rt.weights_.shape == join.weights_.shape and not np.allclose(rt.weights_, join.weights_)
    np.testing.assert_array_equal(rt.neurons_, join.neurons_)
    # retraining minimises cross-entropy: the training loss falls
    assert rt.history_["loss"][-1] < rt.history_["loss"][0]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    tweaked = rt.apply(model)
    x = np.random.default_rng(0).normal(size=(7, 8, 8, 1)).astype("float32")
    t = extract_tables(model, x, np.zeros(7, int), layers=["relu", "hidden"])
    expected = keras.ops.convert_to_numpy(
        keras.ops.softmax(rt.add_to_logits(t).T.astype("float32"))
    )
    np.testing.assert_allclose(tweaked.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    again = SynapticRetraining([target], epochs=3, learning_rate=0.01, seed=1).fit(
        train, val, join=join
    )
    np.testing.assert_allclose(again.weights_, rt.weights_, rtol=1e-6)  # same seed, same result


def test_aan_improves_training_fit_and_round_trips(tables, tmp_path):
    model, train, val = tables
    aan = ActiveNeuronAugmentation(n_active=40, hidden=8, epochs=4, learning_rate=0.01, seed=0).fit(
        train, val
    )
    assert len(aan.active_) == 40 and len(set(aan.active_.tolist())) == 40
    assert aan.added_parameters == 40 * 8 + 8 + 8 * 4 + 4
    base_loss = float(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(train.labels, train.C.T)
    )
    assert (
        aan.history_["loss"][-1] < base_loss
    )  # the MLP lowers the training loss of the base logits
    tweaked = aan.apply(model)
    x = np.random.default_rng(0).normal(size=(7, 8, 8, 1)).astype("float32")
    t = extract_tables(model, x, np.zeros(7, int), layers=["relu", "hidden"])
    expected = keras.ops.convert_to_numpy(
        keras.ops.softmax(aan.add_to_logits(t).T.astype("float32"))
    )
    np.testing.assert_allclose(tweaked.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    tweaked.save(tmp_path / "aan.keras")
    loaded = keras.models.load_model(tmp_path / "aan.keras")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), tweaked.predict(x, verbose=0), rtol=1e-6
    )


def test_errors_and_config():
    with pytest.raises(ValueError, match="hidden"):
        ActiveNeuronAugmentation(hidden=0)
    with pytest.raises(ValueError, match="learning_rate"):
        SynapticRetraining([0], learning_rate=0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamx'; choose one of: sgd"):
        ActiveNeuronAugmentation(optimizer="adamx")
    with pytest.raises(ValueError, match="not fitted"):
        ActiveNeuronAugmentation().apply(None)
    a = ActiveNeuronAugmentation(n_active=3, seed=4, optimizer="RMSprop")
    assert a.get_config()["optimizer"] == "rmsprop"
    assert ActiveNeuronAugmentation.from_config(a.get_config()).get_config() == a.get_config()
    r = SynapticRetraining([1], join_options={"n_candidates": [2]}, epochs=2)
    assert SynapticRetraining.from_config(r.get_config()).get_config() == r.get_config()
