"""VGG in CIFAR form (Simonyan & Zisserman 2015): 3x3 conv-BN-ReLU stacks, five max pools.

``classifier_units`` = 512 gives Xiao's modified VGG-19 (one 512-unit FC layer, thesis Section 3.3.1).
"""

from __future__ import annotations

import keras
from keras import layers

from automl_kit.zoo._layers import classifier, conv_bn, dense, scaled

# channels per conv layer, "M" = 2x2 max pool
CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg19": (
        *(64, 64, "M", 128, 128, "M"),
        *(256, 256, 256, 256, "M"),
        *(512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
    ),
}


def vgg(
    config: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    width: float = 1.0,
    classifier_units: int = 512,
) -> keras.Model:
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    stage, index = 1, 1
    for item in CONFIGS[config]:
        if item == "M":
            # "same" padding keeps 28x28 inputs valid through five pools (28 -> 1)
            x = layers.MaxPooling2D(2, padding="same", name=f"stage{stage}_pool")(x)
            stage, index = stage + 1, 1
        else:
            x = conv_bn(x, scaled(item, width), 3, name=f"stage{stage}_{index}")
            index += 1
    x = layers.Flatten(name="flatten")(x)
    x = dense(scaled(classifier_units, width), "fc", "relu")(x)
    return keras.Model(inputs, classifier(x, num_classes), name=config)
