"""Model zoo: CIFAR-form VGG, ResNet and DenseNet in Keras, with CPU-sized variants.

>>> from automl_kit.zoo import build_model
>>> model = build_model("resnet20", input_shape=(32, 32, 3), num_classes=10)  # doctest: +SKIP
"""

from automl_kit.zoo._layers import BATCH_NORM_MOMENTUM, batch_norm
from automl_kit.zoo._registry import MODELS, build_model, list_models

__all__ = ["BATCH_NORM_MOMENTUM", "MODELS", "batch_norm", "build_model", "list_models"]
