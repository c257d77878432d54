"""``PartialDense``: a Dense layer whose width grows and freezes in chunks while training."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from automl_kit.capacity._partial import PartialMixin, check_chunks, check_widths


def _split_initializer(initializer, shape: tuple[int, ...], chunks: list[int]):
    """One initializer per chunk, slicing one draw over the full shape.

    So the chunks together have the statistics of a plain layer of full width (Glorot's fan is
    the full layer's; the thesis, Section 4.4.1, notes that per-slice initialisation is off).
    """
    full = initializer(shape)
    bounds = np.cumsum([0, *chunks])

    def part(k):
        return lambda shape, dtype=None: ops.cast(full[..., bounds[k] : bounds[k + 1]], dtype)

    return [part(k) for k in range(len(chunks))]


@keras.saving.register_keras_serializable(package="automl_kit")
class PartialDense(PartialMixin, keras.layers.Layer):
    """Dense layer of ``units`` outputs in ``chunks`` equal chunks; ``active``/``frozen`` in chunks.

    Output = ``activation(concat_k(x @ W_k + b_k))`` over the active chunks ``k < active``;
    chunks ``k < frozen`` are read through ``stop_gradient`` (thesis Listing 4.1). The input may
    be narrower than the width the layer was built for (the previous partial layer's active
    width): only the matching kernel rows are read. With ``flatten=True`` an input of rank > 2
    is flattened first (like ``Flatten`` then ``Dense``, channels last), keeping the channel axis
    partial, so a dense layer can follow a :class:`PartialConv2D`.

    >>> import numpy as np
    >>> layer = PartialDense(10, chunks=5, active=2)
    >>> tuple(layer(np.ones((3, 4), "float32")).shape)
    (3, 4)
    >>> layer.set_widths(active=5, frozen=2); tuple(layer(np.ones((3, 4), "float32")).shape)
    (3, 10)
    """

    def __init__(
        self,
        units: int,
        chunks: int = 5,
        active: int | None = None,
        frozen: int = 0,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        flatten: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.chunks = int(units), int(chunks)
        self.chunk_sizes = check_chunks(units, chunks)
        active = self.chunks if active is None else active
        check_widths(self.chunks, active, frozen, self.name)
        self._active, self._frozen = int(active), int(frozen)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.flatten = bool(flatten)
        self.kernels, self.biases = [], []
        self.recorded: dict = {}

    def build(self, input_shape):
        self.input_width = int(input_shape[-1])
        # positions flattened into the kernel rows (1 for an ordinary dense input)
        self.positions = math.prod(int(d) for d in input_shape[1:-1]) if self.flatten else 1
        rows = self.positions * self.input_width
        inits = _split_initializer(self.kernel_initializer, (rows, self.units), self.chunk_sizes)
        self.kernels = [
            self.add_weight(name=f"kernel_{k}", shape=(rows, size), initializer=init)
            for k, (size, init) in enumerate(zip(self.chunk_sizes, inits))
        ]
        if self.use_bias:
            self.biases = [
                self.add_weight(name=f"bias_{k}", shape=(size,), initializer=self.bias_initializer)
                for k, size in enumerate(self.chunk_sizes)
            ]

    def _kernel(self, k: int, width: int):
        kernel = self.kernels[k]
        if k < self._frozen:
            kernel = ops.stop_gradient(kernel)
        if width == self.input_width:
            return kernel  # full input width: no slice, no copy
        if self.positions == 1:
            return kernel[:width]
        size = self.chunk_sizes[k]
        kernel = ops.reshape(kernel, (self.positions, self.input_width, size))
        return ops.reshape(kernel[:, :width], (self.positions * width, size))

    def call(self, inputs):
        width = inputs.shape[-1]
        if width is None or width > self.input_width:
            raise ValueError(
                f"{self.name}: input of width {width} but the layer was built for at most "
                f"{self.input_width} channels; feed the layer the model it was built in."
            )
        x = inputs
        if self.flatten and len(inputs.shape) > 2:
            x = ops.reshape(inputs, (-1, self.positions * width))
        # one matmul per group (frozen, trainable): the chunks' kernels are concatenated first,
        # which costs a copy of the kernel but keeps the matmul as large as a plain Dense's
        parts = []
        for group in self._groups():
            kernels = [self._kernel(k, width) for k in group]
            kernel = kernels[0] if len(kernels) == 1 else ops.concatenate(kernels, axis=-1)
            z = ops.matmul(x, kernel)
            parts.append(self._add_bias(z, group))
        return self._finish(parts, x)

    def compute_output_shape(self, input_shape):
        # the symbolic shape is the full width: the next layer builds over all its inputs
        if self.flatten and len(input_shape) > 2:
            return (input_shape[0], self.units)
        return (*input_shape[:-1], self.units)

    # rows of a kernel that read input channels [start, stop)
    def _rows(self, kernel, start, stop):
        return kernel.reshape(self.positions, self.input_width, -1)[:, start:stop].copy()

    def _set_rows(self, kernel, start, stop, values):
        view = kernel.reshape(self.positions, self.input_width, -1)
        view[:, start:stop] = values.reshape(view[:, start:stop].shape)

    def full_kernel(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(kernel, bias)`` of all chunks side by side: the weights of the equivalent ``Dense``."""
        kernel = np.concatenate([k.numpy() for k in self.kernels], axis=-1)
        bias = np.concatenate([b.numpy() for b in self.biases]) if self.biases else None
        return kernel, bias

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            **self._width_config(),
            "activation": keras.activations.serialize(self.activation)
            if self.activation is not None
            else None,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "flatten": self.flatten,
        }
