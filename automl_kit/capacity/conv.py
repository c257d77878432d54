"""``PartialConv2D``: a Conv2D layer whose filters grow and freeze in chunks while training."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from automl_kit.capacity._partial import PartialMixin, check_chunks, check_widths
from automl_kit.capacity.dense import _split_initializer


@keras.saving.register_keras_serializable(package="automl_kit")
class PartialConv2D(PartialMixin, keras.layers.Layer):
    """2-D convolution (channels last) with ``filters`` in ``chunks`` chunks; widths in chunks.

    One convolution per active chunk, concatenated; frozen chunks read through ``stop_gradient``
    (thesis Listing 4.1). The input may carry fewer channels than the layer was built for (the
    previous partial layer's active width): only those kernel input channels are read.

    >>> import numpy as np
    >>> layer = PartialConv2D(8, 3, chunks=4, active=1, padding="same")
    >>> tuple(layer(np.ones((2, 5, 5, 3), "float32")).shape)
    (2, 5, 5, 2)
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        chunks: int = 5,
        active: int | None = None,
        frozen: int = 0,
        strides=1,
        padding: str = "valid",
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.chunks = int(filters), int(chunks)
        self.chunk_sizes = check_chunks(filters, chunks, "filters")
        active = self.chunks if active is None else active
        check_widths(self.chunks, active, frozen, self.name)
        self._active, self._frozen = int(active), int(frozen)
        pair = lambda v: (int(v), int(v)) if np.isscalar(v) else tuple(int(i) for i in v)  # noqa: E731
        self.kernel_size, self.strides = pair(kernel_size), pair(strides)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernels, self.biases = [], []
        self.recorded: dict = {}

    def build(self, input_shape):
        self.input_width = int(input_shape[-1])
        shape = (*self.kernel_size, self.input_width, self.filters)
        inits = _split_initializer(self.kernel_initializer, shape, self.chunk_sizes)
        self.kernels = [
            self.add_weight(name=f"kernel_{k}", shape=(*shape[:-1], size), initializer=init)
            for k, (size, init) in enumerate(zip(self.chunk_sizes, inits))
        ]
        if self.use_bias:
            self.biases = [
                self.add_weight(name=f"bias_{k}", shape=(size,), initializer=self.bias_initializer)
                for k, size in enumerate(self.chunk_sizes)
            ]

    def call(self, inputs):
        width = inputs.shape[-1]
        if width is None or width > self.input_width:
            raise ValueError(
                f"{self.name}: input of {width} channels but the layer was built for at most "
                f"{self.input_width}; feed the layer the model it was built in."
            )
        # one convolution per group (frozen, trainable) over the concatenated chunk kernels
        parts = []
        for group in self._groups():
            kernels = []
            for k in group:
                kernel = self.kernels[k]
                if k < self._frozen:
                    kernel = ops.stop_gradient(kernel)
                if width != self.input_width:
                    kernel = kernel[:, :, :width]
                kernels.append(kernel)
            kernel = kernels[0] if len(kernels) == 1 else ops.concatenate(kernels, axis=-1)
            z = ops.conv(inputs, kernel, strides=self.strides, padding=self.padding)
            parts.append(self._add_bias(z, group))
        return self._finish(parts, inputs)

    def compute_output_shape(self, input_shape):
        spatial = []
        for size, k, s in zip(input_shape[1:3], self.kernel_size, self.strides):
            if size is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-size // s))
            else:
                spatial.append((size - k) // s + 1)
        return (input_shape[0], *spatial, self.filters)

    def _rows(self, kernel, start, stop):
        return kernel[:, :, start:stop].copy()

    def _set_rows(self, kernel, start, stop, values):
        kernel[:, :, start:stop] = values

    def full_kernel(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(kernel, bias)`` of all chunks side by side: the weights of the equivalent ``Conv2D``."""
        kernel = np.concatenate([k.numpy() for k in self.kernels], axis=-1)
        bias = np.concatenate([b.numpy() for b in self.biases]) if self.biases else None
        return kernel, bias

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            **self._width_config(),
            "strides": list(self.strides),
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation)
            if self.activation is not None
            else None,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
