"""Building blocks shared by the zoo's architectures (deterministic layer names)."""

from __future__ import annotations

import keras
from keras import layers

WEIGHT_DECAY = 5e-4  # the usual CIFAR value (He et al. 2016, Xiao thesis Part 3)


def conv_bn(x, filters: int, kernel: int, name: str, *, strides: int = 1, activation: bool = True):
    """Conv (no bias, L2) -> BatchNorm -> optional ReLU."""
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=keras.regularizers.L2(WEIGHT_DECAY),
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if activation else x


def classifier(x, num_classes: int, name: str = "classifier"):
    return layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=keras.regularizers.L2(WEIGHT_DECAY),
        name=name,
    )(x)


def scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))
