"""``GradMax``: new units' incoming weights chosen by SVD to maximise the gradient norm (Evci et al. 2022)."""

from __future__ import annotations

import numpy as np

from automl_kit.capacity.starts.base import GrowthStart, zero_outgoing


class GradMax(GrowthStart):
    """GradMax (Evci, van Merrienboer, Unterthiner, Vladymyrov & Pedregosa, ICLR 2022, Eq. 8-10).

    New units get zero outgoing weights, so the function is preserved. With zero outgoing
    weights, the gradient of the loss with respect to them is linear in the new units'
    activations; linearising the new units at zero (no activation function, no bias) it is
    ``W_new^T M`` for a matrix ``M`` of the probe batch, and its norm over incoming weights of
    a given norm is largest along the top left singular vectors of ``M`` (the paper's Eq. 10
    with the roles of the two sides swapped: the paper zeroes the incoming side and sets the
    outgoing one, which under ReLU leaves the new units at ``relu'(0) = 0`` in TensorFlow).
    New unit ``i`` takes singular vector ``i``, scaled to ``scale`` times the mean norm of the
    active units' incoming weights (over the active inputs).

    * Dense producer and dense consumers: ``M = x^T dz``, ``x`` the layer's active input and
      ``dz`` the gradient at the consumers' pre-activations (their units that will train).
    * Convolution producer and convolution consumers: a new filter ``w`` (``kh*kw*c_in``)
      makes the feature map ``P w``, ``P`` the producer's input patches; a consumer's kernel
      gradient for it is the filter gradient of ``conv(P w, .)`` against ``dz``, so ``M`` is
      the filter gradient of a convolution over the patch image ``P`` (``kh*kw*c_in`` channels;
      the paper's auxiliary-layer construction, computed here without the combined kernel),
      reshaped to ``(kh*kw*c_in, kc*kc*out)`` and concatenated over consumers. Layers between
      producer and consumers may be activations and residual ``Add`` only (a pooling layer is
      refused: use ``zero_outgoing`` or ``net2net`` there). In a residual stream the branch's
      last convolution takes the SVD filters and the tied shortcut zero filters.

    Not for normalising layers (``PartialConv2D(normalize=True)``): refused.

    ``data`` is the probe batch ``(x, y)``. Our own implementation, written from the paper.

    >>> GradMax(scale=0.5).get_config()
    {'scale': 0.5}
    """

    name = "gradmax"
    # zero incoming weights make a constant channel, which batch normalisation divides by
    # sqrt(epsilon): the linearisation above no longer holds
    supports_normalization = False

    def __init__(self, scale: float = 1.0):
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}.")
        self.scale = float(scale)

    def get_config(self) -> dict:
        return {"scale": self.scale}

    def initialize(self, capacity, layer, start, stop, data=None) -> None:
        from automl_kit.capacity.conv import PartialConv2D
        from automl_kit.capacity.dense import PartialDense

        if data is None:
            raise ValueError(
                "GradMax needs a probe batch: pass probe=(x, y) to the GrowthController "
                "(or data=(x, y) to Capacity.grow)."
            )
        group = capacity.tied(layer)
        if layer is not group[0]:
            # the branch (the group's first layer) took the SVD filters; the shortcut adds none
            for unit in range(start, stop):
                kernel, _ = layer.incoming(unit)
                layer.set_incoming(unit, np.zeros_like(kernel), 0.0)
            return
        consumers = capacity.consumers(layer)
        kinds = {type(c) for c in consumers}
        if isinstance(layer, PartialDense):
            allowed = kinds == {PartialDense}
        else:  # convolutions, or one dense head after global average pooling / flatten
            allowed = kinds == {PartialConv2D} or kinds == {PartialDense} and len(consumers) == 1
        if not consumers or not allowed:
            raise ValueError(
                f"GradMax needs {layer.name} and the layers reading it to be all PartialDense or "
                f"PartialConv2D (got {layer.name} -> {[c.name for c in consumers]}); use "
                "start='zero_outgoing' or 'net2net' here."
            )
        if isinstance(layer, PartialConv2D):
            self._check_direct(capacity, layer, consumers)
        inputs, grads = self._probe(capacity, layer, consumers, data)
        m, rows = self._grow_matrix(layer, consumers, inputs, grads)
        u, _, _ = np.linalg.svd(m, full_matrices=True)
        # the linearised norm is blind to a direction's sign, the activation is not (ReLU would
        # silence a unit whose pre-activations are mostly negative): turn each direction so
        # that its mean pre-activation on the probe batch is positive
        u = u * np.where((rows @ u).mean(axis=0) < 0, -1.0, 1.0)
        norms = [np.linalg.norm(self._active(layer, j, capacity)) for j in range(start)]
        radius = self.scale * float(np.mean(norms))
        for i, unit in enumerate(range(start, stop)):
            self._set_active(layer, unit, capacity, radius * u[:, i % u.shape[1]])
        for member in group:
            zero_outgoing(capacity, member, start, stop)

    # ---------------------------------------------------------------- parts
    @staticmethod
    def _view(layer, kernel: np.ndarray) -> np.ndarray:
        """A unit's incoming weights with the input-channel axis last (a view)."""
        if kernel.ndim == 3:  # conv: (kh, kw, channels)
            return kernel
        return kernel.reshape(getattr(layer, "positions", 1), layer.input_width)

    def _active(self, layer, unit: int, capacity) -> np.ndarray:
        """The weights a unit applies to the active inputs, flattened as the rows of ``M``."""
        width = capacity.input_units(layer)
        return self._view(layer, layer.incoming(unit)[0])[..., :width].reshape(-1)

    def _set_active(self, layer, unit: int, capacity, values: np.ndarray) -> None:
        """Set those weights (zero on inactive inputs) and a zero bias."""
        width = capacity.input_units(layer)
        kernel = np.zeros_like(layer.incoming(unit)[0])
        view = self._view(layer, kernel)
        view[..., :width] = values.reshape(*view.shape[:-1], width)
        layer.set_incoming(unit, kernel, 0.0)

    @staticmethod
    def _check_direct(capacity, layer, consumers) -> None:
        """Only activations, residual Adds and (before a dense head) global average pooling
        between a conv producer and its consumers."""
        import keras

        from automl_kit._compat import producing_layer
        from automl_kit.capacity.dense import PartialDense

        for consumer in consumers:
            stack = [consumer.input]
            while stack:
                source = producing_layer(stack.pop())
                if source is None or source in capacity.tied(layer):
                    continue
                if isinstance(source, type(layer)):
                    continue  # another producer summed into the same stream
                linear = (
                    keras.layers.Activation,
                    keras.layers.Add,
                    keras.layers.GlobalAveragePooling2D,
                )
                if isinstance(source, keras.layers.GlobalAveragePooling2D) and not isinstance(
                    consumer, PartialDense
                ):
                    linear = ()
                if not isinstance(source, linear):
                    raise ValueError(
                        f"GradMax for convolutions needs {consumer.name} to read {layer.name} "
                        f"through activations or residual Adds only, not {source.name} "
                        f"({type(source).__name__}); use start='zero_outgoing' or 'net2net'."
                    )
                inputs = source.input if isinstance(source.input, (list, tuple)) else [source.input]
                stack.extend(inputs)

    @staticmethod
    def _probe(capacity, layer, consumers, data):
        """The producer's active input and the loss gradient at each consumer's pre-activation."""
        import tensorflow as tf

        x, y = data
        model = capacity.model
        recorders = [layer, *consumers]
        for part in recorders:
            part.recording = True
        try:
            with tf.GradientTape() as tape:
                y_pred = model(x, training=False)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
            grads = tape.gradient(loss, [c.recorded["preactivation"] for c in consumers])
            inputs = layer.recorded["inputs"]
        finally:
            for part in recorders:
                part.recording, part.recorded = False, {}
        for consumer, grad in zip(consumers, grads):
            if grad is None:
                raise ValueError(
                    f"the loss does not depend on {consumer.name}; GradMax cannot start."
                )
        # only the consumers' units that train after the growth will ever use the new units;
        # when the growth freezes them all (every layer grows and freezes at once: the
        # consumers' own new units, which will read the new ones, have no gradient yet), the
        # direction the active units' gradients favour stands in for theirs
        grads = [g.numpy() for g in grads]
        trainable = [g[..., c.bounds[capacity.frozen_after(c)] :] for c, g in zip(consumers, grads)]
        if any(g.shape[-1] for g in trainable):
            return inputs, trainable
        return inputs, grads

    @staticmethod
    def _grow_matrix(layer, consumers, inputs, grads) -> tuple[np.ndarray, np.ndarray]:
        """``M`` (rows: the new unit's incoming weights, columns: the consumers' outgoing ones)
        and the input rows a new unit's pre-activation is a product with (patches for a conv)."""
        import tensorflow as tf

        from automl_kit.capacity.dense import PartialDense

        if isinstance(layer, PartialDense):
            x = inputs.numpy()
            return np.concatenate([x.T @ g for g in grads], axis=1), x
        kh, kw = layer.kernel_size
        sh, sw = layer.strides
        patches = tf.image.extract_patches(
            inputs,
            sizes=[1, kh, kw, 1],
            strides=[1, sh, sw, 1],
            rates=[1, 1, 1, 1],
            padding=layer.padding.upper(),
        )  # (batch, h, w, kh*kw*c_in): the feature map of filter w is patches @ w
        blocks = []
        for consumer, grad in zip(consumers, grads):
            if grad.shape[-1] == 0:
                continue  # every unit of this consumer stays frozen
            if isinstance(consumer, PartialDense):
                p = patches.numpy()
                if consumer.positions == 1:  # after global average pooling
                    blocks.append(p.mean(axis=(1, 2)).T @ grad)
                else:  # flattened: one outgoing weight per position
                    p = p.reshape(p.shape[0], -1, p.shape[-1])
                    blocks.append(np.einsum("bpk,bo->kpo", p, grad).reshape(p.shape[-1], -1))
                continue
            ch, cw = consumer.kernel_size
            probe = tf.zeros((ch, cw, patches.shape[-1], grad.shape[-1]))
            with tf.GradientTape() as tape:
                tape.watch(probe)
                out = tf.nn.conv2d(
                    patches,
                    probe,
                    strides=[1, *consumer.strides, 1],
                    padding=consumer.padding.upper(),
                )
                total = tf.reduce_sum(out * grad)
            filt = tape.gradient(total, probe).numpy()  # (ch, cw, kh*kw*c_in, out)
            blocks.append(np.moveaxis(filt, 2, 0).reshape(filt.shape[2], -1))
        rows = patches.numpy().reshape(-1, patches.shape[-1])
        return np.concatenate(blocks, axis=1), rows
