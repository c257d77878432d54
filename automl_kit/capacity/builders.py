"""Dynamic-capacity versions of common models: an MLP and the thesis's MNIST conv net."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from automl_kit.capacity.conv import PartialConv2D
from automl_kit.capacity.dense import PartialDense


def _shape(input_shape) -> tuple[int, ...]:
    return (int(input_shape),) if isinstance(input_shape, int) else tuple(input_shape)


def partial_mlp(
    input_shape,
    outputs: int,
    *,
    hidden: Sequence[int] = (500,),
    chunks: int = 5,
    active: int = 1,
    activation: str = "relu",
    output_activation: str | None = None,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    seed: int | None = None,
    name: str = "partial_mlp",
) -> keras.Model:
    """An MLP of partial hidden layers ``hidden_i`` and a one-chunk head ``head``.

    The thesis's sine net (Chapter 5.1) is ``partial_mlp(1, 1, hidden=(500,), chunks=5,
    active=1)``: 500 hidden units in fifths, 100 active at the start. ``seed`` fixes the initial
    weights (``keras.utils.set_random_seed``).

    >>> partial_mlp(3, 2, hidden=(20, 10), chunks=5, active=2).output_shape
    (None, 2)
    """
    if not hidden:
        raise ValueError("hidden lists the hidden layers' full widths, e.g. (500,); got none.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(_shape(input_shape))
    x = inputs
    for i, width in enumerate(hidden):
        x = PartialDense(
            width,
            chunks=chunks,
            active=active,
            activation=activation,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            name=f"hidden_{i}",
        )(x)
    out = PartialDense(outputs, chunks=1, activation=output_activation, name="head")(x)
    return keras.Model(inputs, out, name=name)


def partial_mnist_convnet(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    filters: Sequence[int] = (32, 64),
    dense: int = 1024,
    kernel_size: int = 7,
    chunks: int = 10,
    active: int = 1,
    seed: int | None = None,
    name: str = "partial_mnist_convnet",
) -> keras.Model:
    """The thesis's MNIST net (Chapter 5.2, after TensorFlow's tutorial): two ``kernel_size``
    convolutions (ReLU, 2x2 max-pooling) of ``filters`` channels, a ``dense``-unit ReLU layer,
    a softmax head; every layer but the head partial, in ``chunks`` (tenths) with ``active``
    chunks at the start.

    >>> partial_mnist_convnet(filters=(4, 8), dense=20, chunks=4).output_shape
    (None, 10)
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(_shape(input_shape))
    x = inputs
    for i, width in enumerate(filters):
        x = PartialConv2D(
            width,
            kernel_size,
            chunks=chunks,
            active=active,
            padding="same",
            activation="relu",
            name=f"conv_{i}",
        )(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = PartialDense(
        dense, chunks=chunks, active=active, activation="relu", flatten=True, name="dense"
    )(x)
    out = PartialDense(num_classes, chunks=1, activation="softmax", name="head")(x)
    return keras.Model(inputs, out, name=name)
