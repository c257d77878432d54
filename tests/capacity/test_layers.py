import keras
import numpy as np
import pytest
import tensorflow as tf

from automl_kit.capacity import Capacity, PartialConv2D, PartialDense, partial_mnist_convnet
from tests.capacity.conftest import regression_data, tiny_mlp


def _dense_pair(flatten=False, input_shape=(5,)):
    x = np.random.default_rng(1).normal(size=(7, *input_shape)).astype("float32")
    partial = PartialDense(12, chunks=3, activation="tanh", flatten=flatten)
    partial(x)
    partial.set_widths(active=3, frozen=0)
    kernel, bias = partial.full_kernel()
    plain = keras.layers.Dense(12, activation="tanh")
    plain(x.reshape(7, -1))
    plain.set_weights([kernel, bias])
    return partial, plain, x


def test_dense_at_full_width_equals_plain_dense_outputs_and_gradients():
    partial, plain, x = _dense_pair()
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        out_p = partial(xt)
        out_d = plain(xt)
        loss_p, loss_d = tf.reduce_sum(out_p**2), tf.reduce_sum(out_d**2)
    np.testing.assert_allclose(out_p, out_d, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        tape.gradient(loss_p, xt), tape.gradient(loss_d, xt), rtol=1e-5, atol=1e-6
    )
    grads_p = tape.gradient(loss_p, partial.kernels)
    np.testing.assert_allclose(
        np.concatenate(grads_p, axis=-1), tape.gradient(loss_d, plain.kernel), rtol=1e-5, atol=1e-6
    )


def test_dense_flatten_matches_flatten_then_dense():
    partial, plain, x = _dense_pair(flatten=True, input_shape=(3, 2, 4))
    np.testing.assert_allclose(partial(x), plain(x.reshape(7, -1)), rtol=1e-6, atol=1e-6)
    # fewer input channels (a narrower producer) read the matching rows only
    narrow = x[..., :2]
    kernel = partial.full_kernel()[0].reshape(3, 2, 4, 12)[:, :, :2].reshape(12, 12)
    expected = np.tanh(narrow.reshape(7, -1) @ kernel + partial.full_kernel()[1])
    np.testing.assert_allclose(partial(narrow), expected, rtol=1e-5, atol=1e-6)


def test_conv_at_full_width_equals_plain_conv2d_outputs_and_gradients():
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 6, 6, 3)).astype("float32"))
    partial = PartialConv2D(6, 3, chunks=3, padding="same", activation="relu")
    partial(x)
    plain = keras.layers.Conv2D(6, 3, padding="same", activation="relu")
    plain(x)
    plain.set_weights(list(partial.full_kernel()))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out_p, out_d = partial(x), plain(x)
        loss_p, loss_d = tf.reduce_sum(out_p**2), tf.reduce_sum(out_d**2)
    np.testing.assert_allclose(out_p, out_d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        tape.gradient(loss_p, x), tape.gradient(loss_d, x), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        np.concatenate(tape.gradient(loss_p, partial.kernels), -1),
        tape.gradient(loss_d, plain.kernel),
        rtol=1e-4,
        atol=1e-5,
    )


def test_only_active_chunks_are_computed_and_frozen_block_gradients():
    layer = PartialDense(10, chunks=5, active=2, frozen=1)
    x = tf.constant(np.ones((3, 4), "float32"))
    with tf.GradientTape() as tape:
        out = layer(x)
        loss = tf.reduce_sum(out)
    assert out.shape == (3, 4)
    grads = tape.gradient(loss, layer.kernels)
    assert grads[0] is None or not np.any(grads[0])  # frozen: stop_gradient
    assert np.any(grads[1])  # trainable
    assert all(g is None for g in grads[2:])  # inactive: not computed at all


def test_unequal_chunks_cover_the_width():
    layer = PartialDense(1024, chunks=10, active=3)
    assert layer.chunk_sizes == [103] * 4 + [102] * 6
    assert layer(np.ones((1, 2), "float32")).shape == (1, 309)
    assert layer.active_units == 309


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.SGD(0.1),
        lambda: keras.optimizers.SGD(0.1, momentum=0.9),
        lambda: keras.optimizers.Adam(0.01),
        lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
    ],
    ids=["sgd", "momentum", "adam", "adamw"],
)
def test_frozen_chunks_bit_identical_under_every_optimizer(optimizer):
    x, y = regression_data()
    model = tiny_mlp(hidden=(12,), chunks=3, active=2, optimizer=optimizer())
    capacity = Capacity(model)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # slots (momentum, moments) now non-zero
    hidden = model.get_layer("hidden_0")
    capacity.set(hidden, frozen=1)
    frozen = [v.numpy().copy() for v in hidden.chunk_variables(0)]
    trained = [v.numpy().copy() for v in hidden.chunk_variables(1)]
    inactive = [v.numpy().copy() for v in hidden.chunk_variables(2)]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for before, v in zip(frozen, hidden.chunk_variables(0)):
        np.testing.assert_array_equal(before, v.numpy())
    for before, v in zip(inactive, hidden.chunk_variables(2)):
        np.testing.assert_array_equal(before, v.numpy())
    assert not np.array_equal(trained[0], hidden.chunk_variables(1)[0].numpy())


def test_growing_keeps_outputs_of_frozen_units_and_the_function():
    x, y = regression_data()
    model = tiny_mlp(hidden=(12, 9), chunks=3, active=1, optimizer=keras.optimizers.Adam(0.01))
    capacity = Capacity(model)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    h0, h1 = model.get_layer("hidden_0"), model.get_layer("hidden_1")
    features = keras.Model(model.input, [h0.output, h1.output])
    before = [np.asarray(a) for a in features(x)]
    prediction = np.asarray(model(x))
    plan = capacity.grow(freeze=True)
    assert plan == {"hidden_0": (1, 2), "hidden_1": (1, 2)}
    assert (h0.active, h0.frozen, h1.active, h1.frozen) == (2, 1, 2, 1)
    np.testing.assert_allclose(model(x), prediction, rtol=1e-5, atol=1e-6)  # function preserved
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    after = [np.asarray(a) for a in features(x)]
    np.testing.assert_array_equal(after[0][:, :4], before[0])  # frozen units of hidden_0
    np.testing.assert_allclose(after[1][:, :3], before[1], rtol=1e-6, atol=1e-7)  # and hidden_1
    assert not np.allclose(model(x), prediction)  # the new units did learn


def test_save_load_round_trip_keeps_widths_weights_and_outputs(tmp_path):
    x, y = regression_data()
    model = tiny_mlp(hidden=(12,), chunks=3, active=1, optimizer=keras.optimizers.Adam(0.01))
    capacity = Capacity(model)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    capacity.grow(freeze=True)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    hidden = loaded.get_layer("hidden_0")
    assert (hidden.active, hidden.frozen, hidden.chunks) == (2, 1, 3)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # and it trains on: the loaded model is a full partial model
    Capacity(loaded)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)


def test_one_compiled_step_per_configuration():
    x, y = regression_data()
    model = tiny_mlp()
    capacity = Capacity(model)
    first = model.train_function
    capacity.set("hidden_0", active=2)
    capacity.set("hidden_0", active=1)
    assert model.train_function is first and capacity.compilations == 2
    # a fully frozen layer at two widths: same trainable set, distinct steps
    capacity.set("hidden_0", active=2, frozen=2)
    capacity.set("hidden_0", active=3, frozen=3)
    assert capacity.compilations == 4
    assert model.predict(x, verbose=0).shape == (64, 1)


@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: PartialDense(10, chunks=5, active=2, frozen=3), "frozen width 3"),
        (lambda: PartialDense(10, chunks=5, active=6), "outside 1..5"),
        (lambda: PartialDense(10, chunks=5, active=0), "outside 1..5"),
        (lambda: PartialDense(10, chunks=0), "chunks must be"),
        (lambda: PartialDense(4, chunks=5), "more than units"),
        (lambda: PartialConv2D(4, 3, chunks=5), "more than filters"),
        (lambda: PartialDense(10, chunks=5, active=1.5), "whole number"),
        (lambda: PartialConv2D(4, 3, chunks=2, padding="causal"), "padding"),
    ],
)
def test_bad_configurations_raise_clear_errors(build, fragment):
    with pytest.raises(ValueError, match=fragment):
        build()


def test_bad_runtime_widths_and_growth_step():
    model = tiny_mlp()
    capacity = Capacity(model)
    with pytest.raises(ValueError, match="frozen width 2"):
        capacity.set("hidden_0", frozen=2)
    with pytest.raises(ValueError, match="outside 1..3"):
        capacity.set("hidden_0", active=4)
    with pytest.raises(ValueError, match="growth step"):
        capacity.grow(step=0)
    with pytest.raises(ValueError, match="no partial layer named"):
        capacity.set("nope", active=1)
    assert model.get_layer("hidden_0").widths()["active"] == 1  # nothing changed


def test_mnist_convnet_grows_in_tenths():
    model = partial_mnist_convnet(filters=(10, 20), dense=40, chunks=10, active=1, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    capacity = Capacity(model)
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    before = np.asarray(model(x))
    capacity.grow()
    assert {n: w["active_units"] for n, w in capacity.widths().items()} == {
        "conv_0": 2,
        "conv_1": 4,
        "dense": 8,
        "head": 10,
    }
    np.testing.assert_allclose(model(x), before, rtol=1e-5, atol=1e-6)
