"""Base classifiers for PK-GCN experiments (Xiao, Part 4.5): small CNNs for MNIST, a small VGG for CIFAR-10.

``base_cnn(n_conv=2)`` is the classic PyTorch MNIST example network (two 3x3 convolutions, max
pooling, dropout, ``Dense(128)``, ``Dense(K)``), trained with AdaDelta as in the thesis;
``n_conv=1`` drops the second convolution (the thesis's "base model 1"). Each ends in
``Dense(K, softmax)``, the head PK-GCN replaces.

>>> base_cnn((28, 28, 1), 10, n_conv=1).output_shape
(None, 10)
"""

from __future__ import annotations

import keras


def base_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    n_conv: int = 1,
    filters: tuple[int, int] = (32, 64),
    hidden: int = 128,
    dropout: bool = True,
) -> keras.Model:
    """Base model 1 (``n_conv=1``) or 2 (``n_conv=2``): conv(s), pool, Dense(hidden), Dense(K)."""
    if n_conv not in (1, 2):
        raise ValueError(f"n_conv must be 1 (base model 1) or 2 (base model 2), got {n_conv!r}.")
    if num_classes < 2:
        raise ValueError(f"a classifier needs num_classes >= 2, got {num_classes}.")
    layers = keras.layers
    inputs = keras.Input(input_shape)
    x = inputs
    for index in range(n_conv):
        x = layers.Conv2D(filters[index], 3, activation="relu", name=f"conv{index + 1}")(x)
    x = layers.MaxPooling2D(2)(x)
    if dropout:
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(hidden, activation="relu", name="embedding")(x)
    if dropout:
        x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=f"base_cnn{n_conv}")


def small_vgg(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    widths: tuple[int, ...] = (32, 64, 128),
    hidden: int = 128,
) -> keras.Model:
    """A VGG-style stand-in for VGG-11 on CPU: per width two 3x3 convs + max pooling, then
    ``Dense(hidden)``, ``Dense(K)``."""
    if num_classes < 2:
        raise ValueError(f"a classifier needs num_classes >= 2, got {num_classes}.")
    layers = keras.layers
    inputs = keras.Input(input_shape)
    x = inputs
    for block, width in enumerate(widths):
        for index in range(2):
            x = layers.Conv2D(
                width,
                3,
                padding="same",
                activation="relu",
                name=f"block{block + 1}_conv{index + 1}",
            )(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(hidden, activation="relu", name="embedding")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="small_vgg")
