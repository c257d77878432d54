"""TrainSteps against Keras's own train_step: same losses, metrics and weights; cache; rebuild."""

import keras
import numpy as np
import pytest

from automl_kit.training import GradientSums, TrainSteps

EPOCHS, BATCH = 3, 64


@pytest.fixture(scope="module")
def data():
    from automl_kit.datasets import load

    digits = load("digits", n_train=320, seed=0)
    x = digits.x_train.reshape(len(digits.x_train), -1)
    weights = np.random.default_rng(0).uniform(0.2, 2.0, len(x)).astype("float32")
    return x, digits.y_train, weights


def build(optimizer="sgd", frozen=()):
    """L2, BatchNorm, Dropout; the same initial weights and dropout seeds on every call."""
    keras.utils.set_random_seed(0)
    l2 = keras.regularizers.L2(1e-3)
    inputs = keras.Input((64,))
    x = keras.layers.Dense(32, kernel_regularizer=l2, name="d1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Dropout(0.3, name="drop")(x)
    x = keras.layers.Dense(16, activation="relu", kernel_regularizer=l2, name="d2")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs)
    for name in frozen:
        model.get_layer(name).trainable = False
    opt = (
        keras.optimizers.SGD(0.05, momentum=0.9)
        if optimizer == "sgd"
        else keras.optimizers.Adam(0.01)
    )
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit(model, data, epochs=EPOCHS):
    x, y, weights = data
    keras.utils.set_random_seed(1)  # the same shuffles and dropout masks in both runs
    return model.fit(
        x, y, sample_weight=weights, epochs=epochs, batch_size=BATCH, verbose=0
    ).history


def assert_same_run(ours, theirs, ours_model, theirs_model):
    assert ours.keys() == theirs.keys() == {"loss", "accuracy"}
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)
    for a, b in zip(ours_model.get_weights(), theirs_model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_custom_step_matches_keras_train_step_under_fit(data):
    keras_model = build()
    keras_history = fit(keras_model, data)
    model = build()
    steps = TrainSteps(model)
    steps.activate()
    history = fit(model, data)
    assert_same_run(history, keras_history, model, keras_model)
    # the run is not trivially equal: training moved the weights, dropout was active
    assert not np.allclose(model.get_layer("d1").get_weights()[0], build().get_weights()[0])
    assert history["loss"][-1] < history["loss"][0]


def test_dropout_draws_the_same_masks_only_with_the_same_seed(data):
    """The equivalence above is not luck: another seed before fit gives other masks."""
    first = fit(build(), data, epochs=1)
    model = build()
    x, y, weights = data
    keras.utils.set_random_seed(2)
    other = model.fit(x, y, sample_weight=weights, epochs=1, batch_size=BATCH, verbose=0).history
    assert first["loss"] != pytest.approx(other["loss"], rel=1e-6)


def test_frozen_subset_matches_keras_trainable_false(data):
    """Training all but d1 equals Keras with ``d1.trainable=False`` (flags mirrored, as freezing does)."""
    keras_model = build(frozen=("d1",))
    keras_history = fit(keras_model, data)
    model = build()
    steps = TrainSteps(model)
    frozen = model.get_layer("d1")
    subset = [v for v in steps.variables if all(v is not w for w in frozen.trainable_variables)]
    frozen.trainable = False  # regularisation of a frozen layer drops out of the loss, as in Keras
    steps.activate(subset)
    history = fit(model, data)
    assert_same_run(history, keras_history, model, keras_model)
    np.testing.assert_array_equal(frozen.get_weights()[0], build().get_layer("d1").get_weights()[0])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_frozen_variables_do_not_change_at_all(data, optimizer):
    """After momentum / Adam moments have built up, a variable left out stays bit-identical."""
    model = build(optimizer)
    steps = TrainSteps(model)
    steps.activate()
    fit(model, data, epochs=1)
    d1 = model.get_layer("d1")
    before = [w.copy() for w in d1.get_weights()]
    head_before = model.get_layer("head").get_weights()[0].copy()
    keep = {id(v) for v in d1.trainable_variables}
    steps.activate([v for v in steps.variables if id(v) not in keep])
    fit(model, data, epochs=1)
    for a, b in zip(d1.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.get_layer("head").get_weights()[0], head_before)


def test_steps_are_cached_by_variable_set(data):
    model = build()
    steps = TrainSteps(model)
    head = model.get_layer("head").trainable_variables
    steps.activate(head)
    first = model.train_function
    steps.activate(list(reversed(head)))  # the same set in another order
    assert steps.compilations == 1 and model.train_function is first
    steps.activate()
    assert steps.compilations == 2 and model.train_function is not first
    steps.activate(head)
    assert steps.compilations == 2 and model.train_function is first
    steps.restore()
    assert model.train_function is None


def test_unknown_variables_and_uncompiled_models_are_refused():
    model = build()
    steps = TrainSteps(model)
    stranger = keras.Variable(np.zeros(3), name="stranger")
    with pytest.raises(ValueError, match="stranger.*not trainable variables"):
        steps.activate([stranger])
    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        TrainSteps(uncompiled)


class Growing(keras.Model):
    """A model that gains a block (new variables) during training, as capacity growth does."""

    def __init__(self):
        super().__init__()
        self.body = keras.layers.Dense(16, activation="relu", name="body")
        self.extra = keras.layers.Dense(16, activation="relu", name="extra")
        self.head = keras.layers.Dense(10, activation="softmax", name="head")
        self.grown = False

    def build(self, input_shape):
        self.body.build(input_shape)
        self.head.build((None, 16))  # "extra" stays unbuilt: no variables until grow()

    def call(self, x):
        h = self.body(x)
        if self.grown:
            h = h + self.extra(h)
        return self.head(h)

    def grow(self):
        self.grown = True
        self.extra.build((None, 16))


def test_adding_variables_rebuilds_steps_and_keeps_optimizer_slots(data):
    x, y, _ = data
    keras.utils.set_random_seed(0)
    model = Growing()
    model(x[:1])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    sums = GradientSums()
    steps = TrainSteps(model, hooks=[sums])
    steps.activate()
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    kernel = model.body.kernel
    slot_name = f"{kernel.path.replace('/', '_')}_momentum"
    momentum = next(v for v in model.optimizer.variables if v.name == slot_name).numpy().copy()
    iterations = int(model.optimizer.iterations.numpy())
    assert np.abs(momentum).sum() > 0 and iterations == 5

    model.grow()
    steps.activate()  # notices the new variables: new cache, optimizer rebuilt over them
    assert len(steps.variables) == 6 and steps.compilations == 2
    slots = {v.name: v.numpy() for v in model.optimizer.variables}
    np.testing.assert_array_equal(slots[slot_name], momentum)  # existing slot carried over
    assert int(model.optimizer.iterations.numpy()) == iterations
    extra_slot = f"{model.extra.kernel.path.replace('/', '_')}_momentum"
    assert not slots[extra_slot].any()  # a new variable starts with zero momentum
    extra_before = model.extra.kernel.numpy().copy()
    sums.collecting.assign(True)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    assert not np.allclose(model.extra.kernel.numpy(), extra_before)  # the new block trains
    total, absolute = sums.totals(model.extra.kernel)  # and the hook sees its gradients
    assert absolute > 0 and np.abs(total).sum() <= absolute + 1e-6
    assert not steps.sync()  # nothing new since
