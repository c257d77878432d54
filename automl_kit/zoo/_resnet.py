"""ResNets in CIFAR form (He et al. 2016): 3x3 stem, no stem pooling, projection shortcuts.

ResNet-18/50 use the ImageNet stage layout (64-512 channels); ResNet-20 is the 16/32/64-channel
CIFAR network of He et al. Section 4.2.
"""

from __future__ import annotations

import keras
from keras import layers

from automl_kit.zoo._layers import classifier, conv_bn, scaled

# name -> (block kind, blocks per stage, channels per stage)
CONFIGS = {
    "resnet20": ("basic", (3, 3, 3), (16, 32, 64)),
    "resnet18": ("basic", (2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet50": ("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512)),
}


def _shortcut(x, filters: int, strides: int, name: str):
    if strides == 1 and x.shape[-1] == filters:
        return x
    return conv_bn(x, filters, 1, f"{name}_proj", strides=strides, activation=False)


def _basic(x, filters: int, strides: int, name: str):
    shortcut = _shortcut(x, filters, strides, name)
    y = conv_bn(x, filters, 3, f"{name}_a", strides=strides)
    y = conv_bn(y, filters, 3, f"{name}_b", activation=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _bottleneck(x, filters: int, strides: int, name: str):
    shortcut = _shortcut(x, 4 * filters, strides, name)
    y = conv_bn(x, filters, 1, f"{name}_a")
    y = conv_bn(y, filters, 3, f"{name}_b", strides=strides)
    y = conv_bn(y, 4 * filters, 1, f"{name}_c", activation=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def resnet(
    config: str, input_shape: tuple[int, ...], num_classes: int, *, width: float = 1.0
) -> keras.Model:
    kind, blocks, channels = CONFIGS[config]
    block = _basic if kind == "basic" else _bottleneck
    inputs = keras.Input(input_shape, name="image")
    x = conv_bn(inputs, scaled(channels[0], width), 3, "stem")
    for stage, (repeats, filters) in enumerate(zip(blocks, channels), start=1):
        for index in range(repeats):
            strides = 2 if stage > 1 and index == 0 else 1
            x = block(x, scaled(filters, width), strides, f"stage{stage}_block{index + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, classifier(x, num_classes), name=config)
