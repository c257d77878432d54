"""A tiny trained-looking classifier shared by the knowledge tests (built once per module)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

N_FEATURES, N_CLASSES = 5, 4


def tiny_classifier(seed: int = 0, activation: str = "softmax") -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(N_FEATURES, activation="tanh", name="hidden")(inputs)
    outputs = keras.layers.Dense(N_CLASSES, activation=activation, name="classifier")(hidden)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="module")
def classifier() -> keras.Model:
    return tiny_classifier()


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    return x, np.arange(32) % N_CLASSES
