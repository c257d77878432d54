"""Building blocks shared by the zoo's architectures (deterministic layer names)."""

from __future__ import annotations

import keras
from keras import layers

WEIGHT_DECAY = 5e-4  # the usual CIFAR value (He et al. 2016, Xiao thesis Part 3)


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
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if activation else x


def classifier(x, num_classes: int, name: str = "classifier"):
    return dense(num_classes, name, "softmax")(x)


def scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))
