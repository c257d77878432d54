import keras
import numpy as np
import pytest

from automl_kit.tweak import SynapticJoin, extract_tables


@pytest.fixture(scope="module")
def fitted(small_model):
    model, (x, y), (xv, yv) = small_model
    train = extract_tables(model, x, y, layers=["relu", "hidden"])
    val = extract_tables(model, xv, yv, layers=["relu", "hidden"])
    target = int(np.argmin(train.accuracy()[1]))
    join = SynapticJoin(targets=[target], max_drop=0.01).fit(train, validation_data=val)
    return model, train, val, join, target


def test_join_raises_training_target_accuracy(fitted):
    model, train, val, join, target = fitted
    before = train.accuracy()[1][target]
    after = train.accuracy(join.add_to_logits(train))[1][target]
    assert join.scale_ > 0 and join.n_ in join.n_candidates
    assert after > before
    # the rule: overall validation accuracy not lowered by more than the max_drop
    chosen = next(g for g in join.selection_ if g["n"] == join.n_ and g["scale"] == join.scale_)
    assert chosen["overall"] >= join.base_validation_["overall"] - 0.01
    assert len(join.weights_) == join.n_ and (join.weights_ > 0).all()
    counts = join.theta_.counts[join.neurons_, 0]
    assert (np.diff(counts) <= 0).all()  # top-n by count


def test_apply_matches_tables_keeps_base_and_round_trips(fitted, tmp_path):
    model, train, val, join, target = fitted
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(3).normal(size=(20, 8, 8, 1)).astype("float32")
    base_out = model.predict(x, verbose=0)
    tweaked = join.apply(model)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(base_out, model.predict(x, verbose=0))
    t = extract_tables(model, x, np.zeros(20, int), layers=["relu", "hidden"])
    expected = keras.ops.convert_to_numpy(
        keras.ops.softmax(join.add_to_logits(t).T.astype("float32"))
    )
    np.testing.assert_allclose(tweaked.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    path = tmp_path / "tweaked.keras"
    tweaked.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), tweaked.predict(x, verbose=0), rtol=1e-6
    )
    assert loaded.get_layer("synapses").synapses == tweaked.get_layer("synapses").synapses
    assert len(join.synapse_table()) == join.n_


def test_errors(fitted, small_model):
    model, train, val, join, target = fitted
    with pytest.raises(ValueError, match="out of range"):
        SynapticJoin(targets=[4]).fit(train)
    with pytest.raises(ValueError, match="distinct"):
        SynapticJoin(targets=[1, 1])
    with pytest.raises(ValueError, match="not fitted"):
        SynapticJoin(targets=[1]).apply(model)
    other = extract_tables(
        model, val_x := np.zeros((5, 8, 8, 1), "float32"), np.zeros(5, int), layers=["hidden"]
    )
    with pytest.raises(ValueError, match="same model and layers"):
        SynapticJoin(targets=[1]).fit(train, validation_data=other)
    small = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(name="relu"),
            keras.layers.Dense(16, name="hidden"),
            keras.layers.Dense(4),
        ]
    )
    with pytest.raises(ValueError, match="another model"):
        join.apply(small)
    assert val_x.shape[0] == 5


def test_config_round_trip():
    j = SynapticJoin(targets=[2, 0], n_candidates=[3, 1], max_drop=0.002)
    assert SynapticJoin.from_config(j.get_config()).get_config() == j.get_config()


def test_tensorflow_backend_gives_the_same_join(fitted):
    _model, train, val, join, target = fitted
    tf_join = SynapticJoin(targets=[target], max_drop=0.01, backend="tensorflow")
    tf_join.fit(train, validation_data=val)
    np.testing.assert_array_equal(tf_join.theta_.counts, join.theta_.counts)
    np.testing.assert_array_equal(tf_join.neurons_, join.neurons_)
    assert (tf_join.n_, tf_join.scale_) == (join.n_, join.scale_)
    assert SynapticJoin.from_config(tf_join.get_config()).backend == "tensorflow"
    with pytest.raises(ValueError, match="backend"):
        SynapticJoin(targets=[0], backend="jax")
