import keras
import pytest

from automl_kit.freezing import FreezingPolicy


class FixedSchedule(FreezingPolicy):
    """A test policy: a given frozen prefix per epoch (a new policy is one small class)."""

    name = "fixed"

    def __init__(self, prefixes):
        self.prefixes = list(prefixes)

    def frozen_prefix(self, epoch):
        return self.prefixes[epoch]


def tiny_cnn(num_classes=10, seed=0):
    """conv-BN, conv-BN, conv, dense: four freezable units on 8x8 digits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="c1_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="c2")(x)
    x = keras.layers.BatchNormalization(name="c2_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def compile_sgd(model, lr=0.05):
    model.compile(
        keras.optimizers.SGD(lr, momentum=0.9),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="session")
def digits():
    from automl_kit.datasets import load

    return load("digits", n_train=400, seed=0)


@pytest.fixture
def weights_of():
    def snapshot(model, names):
        return {name: [w.copy() for w in model.get_layer(name).get_weights()] for name in names}

    return snapshot
