"""Building blocks shared by the zoo's architectures (deterministic layer names)."""

from __future__ import annotations

import keras
from keras import layers

WEIGHT_DECAY = 5e-4  # the usual CIFAR value (He et al. 2016, Xiao thesis Part 3)
# Keras's default 0.99 needs ~500 steps before the moving statistics forget their start (0, 1):
# a textbook CNN trained 6 epochs on the 3,600-image CIFAR subset scored 28.5 % on test with it,
# 56.1 % with 0.9 (PyTorch's default), the same training accuracy; see benchmarks/README.md.
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(name: str) -> layers.BatchNormalization:
    """The toolkit's BatchNorm: moving statistics with momentum 0.9, so that a model trained
    for a few hundred steps (a search's evaluation, a fold, a short schedule) evaluates well.

    >>> batch_norm("bn").momentum
    0.9
    """
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name)


def conv(filters: int, kernel: int, name: str, *, strides: int = 1) -> layers.Conv2D:
    """The zoo's convolution: "same" padding, no bias (a BatchNorm follows or precedes), He init, L2."""
    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=keras.regularizers.L2(WEIGHT_DECAY),
        name=name,
    )


def dense(units: int, name: str, activation: str) -> layers.Dense:
    return layers.Dense(
        units,
        activation=activation,
        kernel_regularizer=keras.regularizers.L2(WEIGHT_DECAY),
        name=name,
    )


def conv_bn(x, filters: int, kernel: int, name: str, *, strides: int = 1, activation: bool = True):
    """Conv (no bias, L2) -> BatchNorm -> optional ReLU."""
    x = conv(filters, kernel, f"{name}_conv", strides=strides)(x)
    x = batch_norm(f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if activation else x


def classifier(x, num_classes: int, name: str = "classifier"):
    return dense(num_classes, name, "softmax")(x)


def scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))
