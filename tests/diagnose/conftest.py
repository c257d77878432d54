"""Small digits data and tiny Keras models shared by the diagnose tests (no downloads)."""

import keras
import pytest

from automl_kit import datasets


@pytest.fixture(scope="session")
def digits():
    return datasets.load("digits", n_train=400, n_val=150, seed=0)


def dense_model(num_classes=10, units=32, seed=0, input_shape=(8, 8, 1)):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="session")
def trained(digits):
    """A dense model fitted to the 400 digits: a few errors on dev and test."""
    model = dense_model()
    model.fit(digits.x_train, digits.y_train, epochs=15, batch_size=32, verbose=0)
    return model
