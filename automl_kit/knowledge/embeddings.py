"""Class and data embeddings of a trained classifier (Xiao, Part 4.4.2, Figures 4.9-4.10).

The data embedding ``d`` is the penultimate activation (the head's input); the class embedding
``c_i`` is column ``i`` of the head's ``Dense`` kernel, so ``d . c_i + b_i`` is the class-``i``
logit of the original model.

>>> import keras, numpy as np
>>> inputs = keras.Input((4,))
>>> hidden = keras.layers.Dense(3, activation="relu")(inputs)
>>> model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
>>> class_embeddings(model).shape, data_embeddings(model, np.ones((5, 4))).shape
((2, 3), (5, 3))
"""

from __future__ import annotations

import numpy as np


def class_embeddings(model) -> np.ndarray:
    """``(K, n)``: row ``i`` is ``c_i``, column ``i`` of the final ``Dense(K)`` kernel."""
    import keras

    from automl_kit.utils.models import classification_head

    head = classification_head(model)
    return np.asarray(keras.ops.convert_to_numpy(head.kernel)).T.copy()


def class_biases(model) -> np.ndarray:
    """``(K,)``: the final ``Dense(K)`` bias (zeros for a head without bias)."""
    import keras

    from automl_kit.utils.models import classification_head

    head = classification_head(model)
    if not head.use_bias:
        return np.zeros(head.units)
    return np.asarray(keras.ops.convert_to_numpy(head.bias))


def data_embeddings(model, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """``(N, n)``: the penultimate activations ``d`` of ``x`` (the head's input)."""
    from automl_kit.utils.models import penultimate_model

    return np.asarray(penultimate_model(model).predict(x, batch_size=batch_size, verbose=0))
