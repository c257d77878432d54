"""The "textbook" CNN: what a practitioner writes first, and the no-search rival of every search.

Three stages of two 3x3 convolutions with BatchNorm and ReLU (32, 64, 128 channels), a 2x2 max
pool after each stage but the last, global average pooling, dropout 0.3 and a softmax head.
No L2 in the layers: weight decay belongs to the training recipe (``training.Recipe``).
"""

from __future__ import annotations

import keras
from keras import layers

from automl_kit.zoo._layers import batch_norm, scaled

STAGES = (32, 64, 128)


def textbook_cnn(
    input_shape: tuple[int, ...], num_classes: int, *, width: float = 1.0, dropout: float = 0.3
) -> keras.Model:
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for stage, channels in enumerate(STAGES, 1):
        for index in (1, 2):
            name = f"stage{stage}_conv{index}"
            x = layers.Conv2D(
                scaled(channels, width), 3, padding="same", use_bias=False, name=f"{name}_conv"
            )(x)
            x = batch_norm(f"{name}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_relu")(x)
        if stage < len(STAGES):
            x = layers.MaxPooling2D(2, padding="same", name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="textbook_cnn")
