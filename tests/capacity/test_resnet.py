"""The partial CIFAR ResNet: shortcuts projected to the active width, tied residual sums."""

import keras
import numpy as np
import pytest

from automl_kit.capacity import (
    Capacity,
    Net2Net,
    PartialConv2D,
    PartialDense,
    partial_resnet,
    resnet,
)

SHAPE = (8, 8, 3)


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *SHAPE)).astype("float32"), rng.integers(0, 10, n)


def _model(active=1, chunks=2, optimizer=None):
    model = partial_resnet(SHAPE, widths=(4, 8), chunks=chunks, active=active, seed=0)
    model.compile(optimizer or keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model, Capacity(model)


@pytest.fixture(scope="module")
def trained():
    """A ResNet trained at half width for a few steps (shared: tests copy what they change)."""
    x, y = _data()
    model, capacity = _model()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model, capacity, x, y


def test_full_width_equals_the_plain_keras_resnet_with_the_same_weights():
    x, _ = _data()
    partial = partial_resnet(SHAPE, widths=(4, 8), blocks=2, chunks=2, active=2, seed=0)
    plain = resnet(SHAPE, widths=(4, 8), blocks=2, seed=1)
    for layer in plain.layers:
        if layer.weights:
            source = partial.get_layer(layer.name)
            if isinstance(source, PartialConv2D):
                kernel, bias = source.full_kernel()
                layer.set_weights([kernel] if bias is None else [kernel, bias])
            else:
                layer.set_weights(list(source.full_kernel()))
    np.testing.assert_allclose(partial(x), plain(x), rtol=1e-5, atol=1e-6)


def test_the_graph_ties_each_blocks_branch_and_shortcut():
    _, capacity = _model()
    assert [l.name for l in capacity.tied("block0_conv2")] == ["block0_conv2", "block0_shortcut"]
    assert [l.name for l in capacity.consumers("block0_shortcut")] == [
        "block1_conv1",
        "block1_shortcut",
    ]
    assert [l.name for l in capacity.producers("head")] == ["block1_conv2", "block1_shortcut"]
    # growing the branch grows its shortcut with it: the residual sum stays well-defined
    plan = capacity.grow(["block1_conv2"])
    assert plan == {"block1_conv2": (1, 2), "block1_shortcut": (1, 2)}
    capacity.set("block0_shortcut", active=2, frozen=1)
    conv2 = capacity.layer("block0_conv2")
    assert (conv2.active, conv2.frozen) == (2, 1)


@pytest.mark.parametrize("start", ["zero_outgoing", Net2Net(seed=0, noise=0.0)])
def test_growth_keeps_the_function_and_frozen_units_outputs(trained, start):
    model, _, x, y = trained
    model = keras.models.clone_model(model)  # the fixture stays at half width
    model.set_weights(trained[0].get_weights())
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    capacity = Capacity(model)
    names = ["stem", "block0_conv1", "block0_relu", "block1_relu"]
    features = keras.Model(model.input, [model.get_layer(n).output for n in names])
    before = [np.asarray(a) for a in features(x)]
    prediction = np.asarray(model(x))
    capacity.grow(freeze=True, start=start)
    np.testing.assert_allclose(model(x), prediction, rtol=1e-4, atol=1e-6)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    after = [np.asarray(a) for a in features(x)]
    for name, old, new in zip(names, before, after):
        np.testing.assert_allclose(
            new[..., : old.shape[-1]], old, rtol=1e-5, atol=1e-6, err_msg=name
        )
    assert not np.allclose(model(x), prediction, atol=1e-4)  # the new units learned


def test_save_load_round_trip_keeps_widths_and_outputs(trained, tmp_path):
    model, *_, x, y = trained
    path = tmp_path / "resnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for layer in model.layers:
        if isinstance(layer, PartialConv2D):
            assert loaded.get_layer(layer.name).widths() == layer.widths()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    Capacity(loaded).grow()
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_one_compiled_step_per_configuration():
    x, y = _data(8)
    model, capacity = _model(chunks=3)
    first = model.train_function
    capacity.grow(freeze=True)
    capacity.set_widths({l.name: (1, 0) for l in capacity.growable()})
    assert model.train_function is first and capacity.compilations == 2
    capacity.freeze_all()
    capacity.freeze_all(False)
    assert capacity.compilations == 3  # (1, 1) everywhere is new; (1, 0) is cached
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_flops_follow_the_active_widths():
    from automl_kit.capacity import model_flops

    model, capacity = _model(chunks=2)
    # 8x8 input; 2 flops per multiply-add: stem 3x3 3->4 at 8x8, block0 two 3x3 4->4 and a 1x1
    # shortcut at 8x8, block1 3x3 4->8 (stride 2), 3x3 8->8, 1x1 4->8 at 4x4, head 8->10
    full_forward = 2 * (9 * 3 * 4 * 64 + 2 * 9 * 16 * 64 + 16 * 64)
    full_forward += 2 * (9 * 32 * 16 + 9 * 64 * 16 + 32 * 16) + 2 * 80
    half = capacity.flops()
    capacity.set_widths({l.name: (2, 0) for l in capacity.growable()})
    full = capacity.flops()
    assert full["forward"] == full_forward == model_flops(resnet(SHAPE, widths=(4, 8)))["forward"]
    # every weight trains; every layer but the stem passes a gradient to its input
    assert full["train"] == 3 * full_forward - 2 * 9 * 3 * 4 * 64
    assert half["forward"] < full["forward"] / 3  # interior layers scale with in x out width
    capacity.freeze_all()
    frozen = capacity.flops()
    assert frozen["forward"] == full["forward"] and frozen["train"] < full["train"]


def test_a_concatenation_between_partial_layers_is_refused():
    inputs = keras.Input(SHAPE)
    a = PartialConv2D(4, 3, chunks=2, padding="same", name="a")(inputs)
    b = PartialConv2D(4, 3, chunks=2, padding="same", name="b")(inputs)
    x = keras.layers.Concatenate()([a, b])
    out = PartialConv2D(4, 1, chunks=2, name="c")(x)
    model = keras.Model(inputs, out)
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="only Add"):
        Capacity(model)


def test_summed_layers_with_different_chunks_are_refused():
    inputs = keras.Input(SHAPE)
    a = PartialConv2D(4, 3, chunks=2, padding="same", name="a")(inputs)
    b = PartialConv2D(4, 1, chunks=4, padding="same", name="b")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([a, b]))
    model = keras.Model(inputs, PartialDense(2, chunks=1)(x))
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="same width and number of chunks"):
        Capacity(model)


# ------------------------------------------------------------------ batch normalisation
def _normalized(active=1):
    model = partial_resnet(SHAPE, widths=(4, 8), chunks=2, active=active, normalize=True, seed=0)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model


def test_normalized_full_width_equals_the_keras_resnet_with_batch_normalization():
    x, y = _data()
    partial = _normalized(active=2)
    partial.fit(x, y, batch_size=8, epochs=1, verbose=0)  # statistics away from 0 and 1
    plain = resnet(SHAPE, widths=(4, 8), normalize=True, seed=1)
    for layer in plain.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            source = partial.get_layer(layer.name.removesuffix("_bn"))
            stores = (source.gammas, source.betas, source.moving_means, source.moving_variances)
            layer.set_weights([np.concatenate([v.numpy() for v in s]) for s in stores])
        elif isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([partial.get_layer(layer.name).full_kernel()[0]])
        elif layer.weights:
            layer.set_weights(list(partial.get_layer(layer.name).full_kernel()))
    assert plain.count_params() == partial.count_params()
    for training in (False, True):  # moving statistics, then the batch's
        np.testing.assert_allclose(
            partial(x, training=training), plain(x, training=training), rtol=1e-4, atol=1e-5
        )


@pytest.mark.parametrize("start", ["zero_outgoing", Net2Net(seed=0, noise=0.0)])
def test_normalized_growth_keeps_the_function_and_frozen_units_with_their_statistics(start):
    x, y = _data()
    model = _normalized()
    capacity = Capacity(model)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    names = ["stem", "block0_conv1", "block0_relu", "block1_relu"]
    features = keras.Model(model.input, [model.get_layer(n).output for n in names])
    prediction = np.asarray(model(x))
    capacity.grow(freeze=True, start=start)
    np.testing.assert_allclose(model(x), prediction, rtol=1e-4, atol=1e-5)
    stem = model.get_layer("stem")
    frozen = [v.numpy().copy() for v in (stem.gammas[0], stem.moving_means[0])]
    trainable_mean = stem.moving_means[1].numpy().copy()
    # frozen units use their moving statistics in training too: their outputs are fixed now
    before = [np.asarray(a) for a in features(x, training=True)]
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    after = [np.asarray(a) for a in features(x, training=True)]
    for name, old, new in zip(names, before, after):
        half = old.shape[-1] // 2
        np.testing.assert_allclose(new[..., :half], old[..., :half], atol=1e-6, err_msg=name)
    for old, new in zip(frozen, (stem.gammas[0], stem.moving_means[0])):
        np.testing.assert_array_equal(new.numpy(), old)
    assert not np.allclose(stem.moving_means[1].numpy(), trainable_mean)  # these still learn


def test_normalized_layers_save_load_and_refuse_a_bias_or_gradmax(tmp_path):
    x, y = _data()
    model = _normalized()
    capacity = Capacity(model)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "bn.keras")
    loaded = keras.saving.load_model(tmp_path / "bn.keras")
    assert loaded.get_layer("stem").normalize
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="use_bias=False"):
        PartialConv2D(4, 3, normalize=True)
    with pytest.raises(ValueError, match="does not support batch-normalised"):
        capacity.grow(start="gradmax", data=(x, y))
    assert model.get_layer("stem").active == 1  # refused before any weight moved
