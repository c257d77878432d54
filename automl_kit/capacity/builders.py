"""Dynamic-capacity versions of common models: an MLP, the thesis's MNIST conv net, a CIFAR ResNet."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from automl_kit.capacity.conv import PartialConv2D
from automl_kit.capacity.dense import PartialDense

# moving-statistics momentum of the normalised ResNets: a chunk frozen after ~90 steps must hold
# its own statistics, not the initial ones (0.99 keeps 40 % of them after 90 steps, 0.9 none)
MOMENTUM = 0.9


def _shape(input_shape) -> tuple[int, ...]:
    return (int(input_shape),) if isinstance(input_shape, int) else tuple(input_shape)


def partial_mlp(
    input_shape,
    outputs: int,
    *,
    hidden: Sequence[int] = (500,),
    chunks: int = 5,
    active: int = 1,
    activation: str = "relu",
    output_activation: str | None = None,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    seed: int | None = None,
    name: str = "partial_mlp",
) -> keras.Model:
    """An MLP of partial hidden layers ``hidden_i`` and a one-chunk head ``head``.

    The thesis's sine net (Chapter 5.1) is ``partial_mlp(1, 1, hidden=(500,), chunks=5,
    active=1)``: 500 hidden units in fifths, 100 active at the start. ``seed`` fixes the initial
    weights (``keras.utils.set_random_seed``).

    >>> partial_mlp(3, 2, hidden=(20, 10), chunks=5, active=2).output_shape
    (None, 2)
    """
    if not hidden:
        raise ValueError("hidden lists the hidden layers' full widths, e.g. (500,); got none.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(_shape(input_shape))
    x = inputs
    for i, width in enumerate(hidden):
        x = PartialDense(
            width,
            chunks=chunks,
            active=active,
            activation=activation,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            name=f"hidden_{i}",
        )(x)
    out = PartialDense(outputs, chunks=1, activation=output_activation, name="head")(x)
    return keras.Model(inputs, out, name=name)


def partial_mnist_convnet(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    filters: Sequence[int] = (32, 64),
    dense: int = 1024,
    kernel_size: int = 7,
    chunks: int = 10,
    active: int = 1,
    seed: int | None = None,
    name: str = "partial_mnist_convnet",
) -> keras.Model:
    """The thesis's MNIST net (Chapter 5.2, after TensorFlow's tutorial): two ``kernel_size``
    convolutions (ReLU, 2x2 max-pooling) of ``filters`` channels, a ``dense``-unit ReLU layer,
    a softmax head; every layer but the head partial, in ``chunks`` (tenths) with ``active``
    chunks at the start.

    >>> partial_mnist_convnet(filters=(4, 8), dense=20, chunks=4).output_shape
    (None, 10)
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(_shape(input_shape))
    x = inputs
    for i, width in enumerate(filters):
        x = PartialConv2D(
            width,
            kernel_size,
            chunks=chunks,
            active=active,
            padding="same",
            activation="relu",
            name=f"conv_{i}",
        )(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = PartialDense(
        dense, chunks=chunks, active=active, activation="relu", flatten=True, name="dense"
    )(x)
    out = PartialDense(num_classes, chunks=1, activation="softmax", name="head")(x)
    return keras.Model(inputs, out, name=name)


def _resnet(conv, input_shape, widths: Sequence[int], blocks: int, stem_strides: int):
    """The ResNet body shared by :func:`partial_resnet` and :func:`resnet` (input, pooled
    features): ``conv(width, kernel, strides, activation, use_bias, name)`` makes each
    convolution."""
    if not widths or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths lists each stage's channels, e.g. (16, 32, 64); got {widths!r}.")
    if not isinstance(blocks, int) or blocks < 1:
        raise ValueError(
            f"blocks is the number of residual blocks per stage (>= 1), got {blocks!r}."
        )
    inputs = keras.Input(_shape(input_shape))
    x = conv(widths[0], 3, stem_strides, "relu", True, "stem")(inputs)
    index = 0
    for stage, width in enumerate(widths):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            prefix = f"block{index}"
            h = conv(width, 3, strides, "relu", True, f"{prefix}_conv1")(x)
            h = conv(width, 3, 1, None, True, f"{prefix}_conv2")(h)
            # the shortcut projects the block's input to the block's (active) width
            shortcut = conv(width, 1, strides, None, False, f"{prefix}_shortcut")(x)
            x = keras.layers.Add(name=f"{prefix}_add")([h, shortcut])
            x = keras.layers.Activation("relu", name=f"{prefix}_relu")(x)
            index += 1
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return inputs, x


def partial_resnet(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    *,
    widths: Sequence[int] = (16, 32, 64),
    blocks: int = 1,
    chunks: int = 4,
    active: int = 1,
    stem_strides: int = 1,
    normalize: bool = False,
    seed: int | None = None,
    name: str = "partial_resnet",
) -> keras.Model:
    """A small CIFAR ResNet (He et al. 2016) whose widths grow: every convolution partial.

    A 3x3 ``stem`` convolution, then per stage (``widths``) ``blocks`` residual blocks
    ``relu(conv2(relu(conv1(x))) + shortcut(x))`` (the first block of a later stage strides by
    2), global average pooling and a softmax ``head``. Every block's shortcut is a 1x1
    :class:`PartialConv2D` that *projects the block's input to the block's active width* (the
    thesis, Chapter 4: "the shortcut is projected to the correct dimension"), so a block can
    grow on its own: :class:`~automl_kit.capacity.Capacity` reads the ``Add`` from the graph and
    ties ``conv2`` and ``shortcut`` (same widths, grown together). No batch normalisation:
    per-channel batch statistics would move frozen units' outputs. All partial layers in
    ``chunks`` with ``active`` chunks at the start; :func:`resnet` is the plain Keras twin.

    >>> model = partial_resnet(widths=(8, 16), chunks=4)
    >>> model.output_shape, model.get_layer("block1_shortcut").active_units
    ((None, 10), 4)
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)

    def conv(width, kernel, strides, activation, use_bias, layer_name):
        return PartialConv2D(
            width,
            kernel,
            chunks=chunks,
            active=active,
            strides=strides,
            padding="same",
            activation=activation,
            use_bias=use_bias and not normalize,
            kernel_initializer="he_uniform",
            normalize=normalize,
            momentum=MOMENTUM,
            name=layer_name,
        )

    inputs, x = _resnet(conv, input_shape, widths, blocks, stem_strides)
    out = PartialDense(num_classes, chunks=1, activation="softmax", name="head")(x)
    return keras.Model(inputs, out, name=name)


def resnet(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    *,
    widths: Sequence[int] = (16, 32, 64),
    blocks: int = 1,
    stem_strides: int = 1,
    normalize: bool = False,
    seed: int | None = None,
    name: str = "resnet",
) -> keras.Model:
    """The plain Keras ``Conv2D``/``Dense`` net of :func:`partial_resnet` (same layer names);
    ``normalize=True`` puts a ``BatchNormalization`` (``<name>_bn``) after every convolution.

    >>> resnet(widths=(8, 16)).count_params() == partial_resnet(widths=(8, 16)).count_params()
    True
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)

    def conv(width, kernel, strides, activation, use_bias, layer_name):
        layer = keras.layers.Conv2D(
            width,
            kernel,
            strides=strides,
            padding="same",
            activation=None if normalize else activation,
            use_bias=use_bias and not normalize,
            kernel_initializer="he_uniform",
            name=layer_name,
        )
        if not normalize:
            return layer
        norm = keras.layers.BatchNormalization(momentum=MOMENTUM, name=f"{layer_name}_bn")
        act = keras.layers.Activation(activation or "linear", name=f"{layer_name}_act")
        return lambda x: act(norm(layer(x)))

    inputs, x = _resnet(conv, input_shape, widths, blocks, stem_strides)
    out = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, out, name=name)
