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

    ``normalize=True`` adds batch normalisation between the convolution and the activation
    (Ioffe & Szegedy 2015, Eq. 1-2: ``gamma * (z - mean) / sqrt(var + epsilon) + beta`` per
    channel), with the *partial* rule that keeps frozen units frozen: trainable chunks normalise
    by the batch's statistics while training and update their moving statistics; frozen chunks
    always use their moving statistics, and their ``gamma``/``beta`` are frozen with the kernel.
    A frozen unit's output then depends on frozen weights and frozen inputs only, as without
    normalisation. ``beta`` takes the place of the bias (``use_bias`` must be False).

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
        normalize: bool = False,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if normalize and use_bias:
            raise ValueError(
                "normalize=True adds beta after the convolution, which makes a bias redundant; "
                "pass use_bias=False with normalize=True."
            )
        if not 0 <= momentum < 1 or not epsilon > 0:
            raise ValueError(
                f"momentum must be in [0, 1) and epsilon > 0, got {momentum} and {epsilon}."
            )
        self.normalize, self.momentum, self.epsilon = (
            bool(normalize),
            float(momentum),
            float(epsilon),
        )
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
        # per chunk, with normalize: gamma, beta (trained) and the moving mean/variance
        self.gammas, self.betas, self.moving_means, self.moving_variances = [], [], [], []
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
        if self.normalize:
            for label, store, init, trainable in (
                ("gamma", self.gammas, "ones", True),
                ("beta", self.betas, "zeros", True),
                ("moving_mean", self.moving_means, "zeros", False),
                ("moving_variance", self.moving_variances, "ones", False),
            ):
                store.extend(
                    self.add_weight(
                        name=f"{label}_{k}", shape=(size,), initializer=init, trainable=trainable
                    )
                    for k, size in enumerate(self.chunk_sizes)
                )

    def chunk_variables(self, chunk: int) -> list:
        """The kernel, bias, ``gamma`` and ``beta`` variables of output chunk ``chunk``."""
        out = super().chunk_variables(chunk)
        if self.normalize:
            out += [self.gammas[chunk], self.betas[chunk]]
        return out

    def _normalized(self, z, group: list[int], training: bool):
        """Batch normalisation of the group's channels (the partial rule of the class docstring)."""
        join = lambda vs: vs[0] if len(vs) == 1 else ops.concatenate(vs, axis=0)  # noqa: E731
        gamma, beta = join([self.gammas[k] for k in group]), join([self.betas[k] for k in group])
        if group[0] < self._frozen or not training:
            mean = join([self.moving_means[k] for k in group])
            variance = join([self.moving_variances[k] for k in group])
            if group[0] < self._frozen:
                gamma, beta = ops.stop_gradient(gamma), ops.stop_gradient(beta)
        else:
            mean, variance = ops.moments(z, axes=[0, 1, 2])
            offset = 0
            for k in group:
                size = self.chunk_sizes[k]
                for moving, batch in (
                    (self.moving_means[k], mean),
                    (self.moving_variances[k], variance),
                ):
                    value = ops.stop_gradient(batch[offset : offset + size])
                    moving.assign(moving * self.momentum + value * (1.0 - self.momentum))
                offset += size
        return (z - mean) * ops.rsqrt(variance + self.epsilon) * gamma + beta

    def call(self, inputs, training=None):
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
            if self.normalize:
                z = self._normalized(z, group, bool(training))
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

    def _normalization_stores(self) -> tuple[list, ...]:
        return (self.gammas, self.betas, self.moving_means, self.moving_variances)

    def unit_normalization(self, unit: int) -> list[float]:
        """``[gamma, beta, moving mean, moving variance]`` of one output unit (``normalize=True``)."""
        ((k, s),) = self.unit_slice(unit, unit + 1)
        return [float(store[k].numpy()[s.start]) for store in self._normalization_stores()]

    def set_unit_normalization(self, unit: int, values) -> None:
        """Assign what :meth:`unit_normalization` returns to output unit ``unit``."""
        ((k, s),) = self.unit_slice(unit, unit + 1)
        for store, value in zip(self._normalization_stores(), values):
            array = store[k].numpy()
            array[s.start] = value
            store[k].assign(array)

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
            "normalize": self.normalize,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }
