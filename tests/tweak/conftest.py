import keras
import numpy as np
import pytest


def make_data(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    centers = np.random.default_rng(99).normal(0, 1, (4, 8, 8, 1))
    x = centers[y] + rng.normal(0, 1.6, (n, 8, 8, 1))
    return x.astype("float32"), y


@pytest.fixture(scope="session")
def small_model():
    """A small trained CNN with batch norm and a deliberately weak class 3 (few examples)."""
    keras.utils.set_random_seed(0)
    x, y = make_data(0, 1200)
    keep = (y != 3) | (np.arange(len(y)) % 6 == 0)
    x, y = x[keep], y[keep]
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(4, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, batch_size=64, verbose=0)
    xv, yv = make_data(1, 400)
    return model, (x, y), (xv, yv)
