"""Name -> architecture, the one place the CLI and benchmarks look models up."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import keras

from automl_kit.zoo import _densenet, _resnet, _textbook, _vgg

MODELS: dict[str, Callable[..., keras.Model]] = {
    **{name: partial(_vgg.vgg, name) for name in _vgg.CONFIGS},
    **{name: partial(_resnet.resnet, name) for name in _resnet.CONFIGS},
    **{name: partial(_densenet.densenet, name) for name in _densenet.CONFIGS},
    "textbook_cnn": _textbook.textbook_cnn,
}


def list_models() -> list[str]:
    return sorted(MODELS)


def build_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, *, width: float = 1.0
) -> keras.Model:
    """Build a zoo model for images of ``input_shape`` (H, W, C); ``width`` scales every layer's channels.

    >>> build_model("vgg11", (32, 32, 3), 10, width=0.25).count_params() < 1_000_000  # doctest: +SKIP
    True
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}.")
    if len(input_shape) != 3:
        raise ValueError(
            f"zoo models take images of shape (height, width, channels), got {tuple(input_shape)}; "
            "add a channel axis with x[..., None]."
        )
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}.")
    return MODELS[name](tuple(input_shape), int(num_classes), width=width)
