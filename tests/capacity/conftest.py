import keras
import numpy as np

from automl_kit.capacity import partial_mlp


def regression_data(n=64, inputs=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, inputs)).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True)).astype("float32")
    return x, y


def tiny_mlp(hidden=(12,), chunks=3, active=1, seed=0, optimizer=None):
    model = partial_mlp(4, 1, hidden=hidden, chunks=chunks, active=active, seed=seed)
    model.compile(optimizer or keras.optimizers.SGD(0.05), "mse")
    return model
