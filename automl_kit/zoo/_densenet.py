"""DenseNet-BC in CIFAR form (Huang et al. 2017): 3x3 stem, bottleneck layers, 0.5 compression."""

from __future__ import annotations

import keras
from keras import layers

from automl_kit.zoo._layers import batch_norm, classifier, conv, scaled

# name -> (growth rate, layers per dense block)
CONFIGS = {
    "densenet121": (32, (6, 12, 24, 16)),
    "densenet40": (12, (6, 6, 6)),  # a CPU-sized DenseNet-BC
}


def _bn_relu_conv(x, filters: int, kernel: int, name: str):
    x = batch_norm(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    return conv(filters, kernel, f"{name}_conv")(x)


def densenet(
    config: str, input_shape: tuple[int, ...], num_classes: int, *, width: float = 1.0
) -> keras.Model:
    growth, blocks = CONFIGS[config]
    growth = scaled(growth, width)
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(
        2 * growth,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv",
    )(inputs)
    for b, repeats in enumerate(blocks, start=1):
        for i in range(1, repeats + 1):
            y = _bn_relu_conv(x, 4 * growth, 1, f"dense{b}_{i}_a")
            y = _bn_relu_conv(y, growth, 3, f"dense{b}_{i}_b")
            x = layers.Concatenate(name=f"dense{b}_{i}_concat")([x, y])
        if b < len(blocks):
            x = _bn_relu_conv(x, x.shape[-1] // 2, 1, f"transition{b}")
            x = layers.AveragePooling2D(2, padding="same", name=f"transition{b}_pool")(x)
    x = batch_norm("final_bn")(x)
    x = layers.Activation("relu", name="final_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, classifier(x, num_classes), name=config)
