"""``GradMax``: new units' incoming weights chosen by SVD to maximise the gradient norm (Evci et al. 2022)."""

from __future__ import annotations

import numpy as np

from automl_kit.capacity.starts.base import GrowthStart, zero_outgoing


class GradMax(GrowthStart):
    """GradMax (Evci, van Merrienboer, Unterthiner, Vladymyrov & Pedregosa, ICLR 2022, Eq. 8-10).

    New units get zero outgoing weights, so the function is preserved. With zero outgoing
    weights, the gradient of the loss with respect to them is ``h_new^T dz``, where ``dz`` is
    the gradient at the consumer's pre-activation; linearising the new units at zero
    (``h_new ~ x W_new``) it is ``W_new^T M`` with ``M = x^T dz`` (one probe batch). Its norm,
    for orthonormal incoming directions, is largest along the top left singular vectors of
    ``M``: new unit ``i`` takes singular vector ``i``, scaled to ``scale`` times the mean norm
    of the active units' incoming weights. Dense layers only (a dense consumer); ``data`` is
    the probe batch ``(x, y)``. Our own implementation, written from the paper.

    >>> GradMax(scale=0.5).get_config()
    {'scale': 0.5}
    """

    name = "gradmax"

    def __init__(self, scale: float = 1.0):
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}.")
        self.scale = float(scale)

    def get_config(self) -> dict:
        return {"scale": self.scale}

    def initialize(self, capacity, layer, start, stop, data=None) -> None:
        import tensorflow as tf

        from automl_kit.capacity.dense import PartialDense

        consumer = capacity.consumer(layer)
        if data is None:
            raise ValueError(
                "GradMax needs a probe batch: pass probe=(x, y) to the GrowthController "
                "(or data=(x, y) to Capacity.grow)."
            )
        if not isinstance(layer, PartialDense) or not isinstance(consumer, PartialDense):
            raise ValueError(
                f"GradMax is implemented for a PartialDense feeding a PartialDense; {layer.name} "
                "is not: use start='zero_outgoing' or 'net2net' for convolutions."
            )
        x, y = data
        layer_pair = (layer, consumer)
        model = capacity.model
        for part in layer_pair:
            part.recording = True
        try:
            with tf.GradientTape() as tape:
                y_pred = model(x, training=False)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
            dz = tape.gradient(loss, consumer.recorded["preactivation"])
            inputs = layer.recorded["inputs"]
        finally:
            for part in layer_pair:
                part.recording, part.recorded = False, {}
        if dz is None:
            raise ValueError(f"the loss does not depend on {consumer.name}; GradMax cannot start.")
        # only the consumer's trainable units will ever use the new units
        dz = dz.numpy()[:, consumer.frozen_units :]
        m = inputs.numpy().T @ dz  # (active inputs, trainable consumer units)
        u, _, _ = np.linalg.svd(m, full_matrices=True)
        norms = [np.linalg.norm(layer.incoming(j)[0]) for j in range(start)]
        radius = self.scale * float(np.mean(norms))
        width = inputs.shape[-1]
        for i, unit in enumerate(range(start, stop)):
            kernel = np.zeros(layer.positions * layer.input_width, np.float32)
            kernel[:width] = radius * u[:, i % u.shape[1]]
            layer.set_incoming(unit, kernel, 0.0)
        zero_outgoing(capacity, layer, start, stop)
