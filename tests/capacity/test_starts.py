import keras
import numpy as np
import pytest

from automl_kit.capacity import Capacity, GradMax, KeepInit, Net2Net, ZeroOutgoing, get_start
from tests.capacity.conftest import regression_data, tiny_mlp


def _trained(hidden=(12, 9)):
    x, y = regression_data()
    model = tiny_mlp(hidden=hidden, chunks=3, active=1, optimizer=keras.optimizers.Adam(0.01))
    capacity = Capacity(model)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return model, capacity, x, y


@pytest.mark.parametrize("start", [ZeroOutgoing(), Net2Net(seed=1, noise=0.0), GradMax()])
@pytest.mark.parametrize("freeze", [True, False])
def test_function_preserving_starts_keep_the_outputs(start, freeze):
    model, capacity, x, y = _trained()
    before = np.asarray(model(x))
    capacity.grow(freeze=freeze, start=start, data=(x, y))
    np.testing.assert_allclose(model(x), before, rtol=1e-4, atol=1e-5)


def test_keep_init_changes_the_function():
    model, capacity, x, y = _trained()
    before = np.asarray(model(x))
    capacity.grow(start=KeepInit())
    assert not np.allclose(model(x), before, atol=1e-4)


def test_net2net_copies_units_and_splits_outgoing_weights():
    model, capacity, x, y = _trained(hidden=(12,))
    hidden, head = model.get_layer("hidden_0"), model.get_layer("head")
    old_out = head.input_rows(0, 0, 4).copy()
    capacity.grow(freeze=False, start=Net2Net(seed=0, noise=0.0))
    new_in = [hidden.incoming(u)[0] for u in range(4, 8)]
    sources = [next(j for j in range(4) if np.allclose(hidden.incoming(j)[0], k)) for k in new_in]
    out = head.input_rows(0, 0, 8)
    for j in range(4):  # the outgoing weight of j is shared by j and its copies
        group = [j] + [4 + i for i, s in enumerate(sources) if s == j]
        np.testing.assert_allclose(out[..., group, :].sum(axis=-2), old_out[..., j, :], rtol=1e-5)


def test_gradmax_new_units_follow_the_top_singular_vectors():
    model, capacity, x, y = _trained(hidden=(12,))
    hidden = model.get_layer("hidden_0")
    capacity.grow(start=GradMax(), data=(x, y))
    new = np.stack([hidden.incoming(u)[0] for u in range(4, 8)], axis=1)  # (4 inputs, 4 units)
    gram = new.T @ new
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-4)  # orthogonal directions
    assert np.all(np.diag(gram) > 0)
    # a model step later the new units' outgoing weights have the largest gradient GradMax promised
    head = model.get_layer("head")
    np.testing.assert_array_equal(head.input_rows(0, 4, 8), 0)


def test_gradmax_needs_a_probe():
    model, capacity, *_ = _trained(hidden=(12,))
    with pytest.raises(ValueError, match="probe"):
        capacity.grow(start=GradMax())


def test_get_start_by_name_and_config():
    assert get_start({"name": "net2net", "seed": 4}).get_config() == {"seed": 4, "noise": 0.01}
    with pytest.raises(ValueError, match="choose one of"):
        get_start("nope")
    with pytest.raises(ValueError, match="noise"):
        Net2Net(noise=-1)


def _conv_chain(seed=0):
    """stem -> conv (3x3, stride 2) -> pooled head: GradMax's conv-to-conv case."""
    from automl_kit.capacity import PartialConv2D, PartialDense

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = PartialConv2D(8, 3, chunks=2, active=1, padding="same", activation="relu", name="a")(inputs)
    x = PartialConv2D(6, 3, chunks=2, active=1, strides=2, padding="same", name="b")(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Activation("relu")(x))
    model = keras.Model(inputs, PartialDense(3, chunks=1, activation="softmax", name="head")(x))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    x = rng.random((24, 8, 8, 3)).astype("float32")
    return model, Capacity(model), x, rng.integers(0, 3, 24)


def _outgoing_gradient_norm(model, capacity, layer, start, stop, x, y):
    """Norm of the loss gradient on what the consumers read from units [start, stop)."""
    import tensorflow as tf

    consumers = capacity.consumers(layer)
    kernels = [c.kernels[k] for c in consumers for k in range(c.frozen, c.active)]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)
    grads = tape.gradient(loss, kernels)
    return float(np.sqrt(sum(np.sum(g.numpy()[..., start:stop, :] ** 2) for g in grads)))


@pytest.mark.parametrize("grow", ["a", "b"])
def test_gradmax_conv_keeps_the_function_and_beats_random_starts(grow):
    model, capacity, x, y = _conv_chain()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    before = np.asarray(model(x))
    weights = model.get_weights()
    layer = capacity.layer(grow)
    start, stop = layer.active_units, layer.bounds[layer.active + 1]
    capacity.grow([grow], start=GradMax(), data=(x, y), freeze=False)
    np.testing.assert_allclose(model(x), before, rtol=1e-5, atol=1e-6)  # zero outgoing weights
    gradmax = _outgoing_gradient_norm(model, capacity, layer, start, stop, x, y)
    new = [layer.incoming(u)[0] for u in range(start, stop)]
    norms = [np.linalg.norm(k) for k in new]
    assert gradmax > 0 and np.allclose(norms, norms[0], rtol=1e-4)
    # random incoming filters of the same norms on the same active inputs
    width = capacity.input_units(layer)
    rng = np.random.default_rng(0)
    randoms = []
    for _ in range(5):
        for unit, norm in zip(range(start, stop), norms):
            kernel = np.zeros_like(new[0])
            draw = rng.standard_normal(kernel[:, :, :width].shape)
            kernel[:, :, :width] = norm * draw / np.linalg.norm(draw)
            layer.set_incoming(unit, kernel, 0.0)
        randoms.append(_outgoing_gradient_norm(model, capacity, layer, start, stop, x, y))
    assert gradmax >= max(randoms), (gradmax, randoms)
    model.set_weights(weights)


@pytest.mark.slow  # ~7 s: a GradMax start per layer of a ResNet
def test_gradmax_conv_in_a_resnet_starts_the_branch_and_zeroes_the_shortcut():
    from automl_kit.capacity import partial_resnet

    model = partial_resnet((8, 8, 3), widths=(4, 8), chunks=2, active=1, seed=0)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    capacity = Capacity(model)
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8, 8, 3)).astype("float32"), rng.integers(0, 10, 16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = np.asarray(model(x))
    capacity.grow(start="gradmax", data=(x, y))
    np.testing.assert_allclose(model(x), before, rtol=1e-5, atol=1e-6)
    conv2, shortcut = capacity.layer("block0_conv2"), capacity.layer("block0_shortcut")
    assert np.linalg.norm(conv2.incoming(3)[0]) > 0
    np.testing.assert_array_equal(shortcut.incoming(3)[0], 0)


def test_gradmax_refuses_pooling_between_convolutions():
    from automl_kit.capacity import partial_mnist_convnet

    model = partial_mnist_convnet(filters=(4, 8), dense=10, chunks=2, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    capacity = Capacity(model)
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    with pytest.raises(ValueError, match="MaxPooling2D"):
        capacity.grow(["conv_0"], start=GradMax(), data=(x, np.zeros(4, int)))
    with pytest.raises(ValueError, match="not pool_1"):
        capacity.grow(["conv_1"], start=GradMax(), data=(x, np.zeros(4, int)))
