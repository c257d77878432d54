"""``Net2Net``: function-preserving widening by copying units and splitting their outgoing weights."""

from __future__ import annotations

import numpy as np

from automl_kit.capacity.starts.base import GrowthStart


class Net2Net(GrowthStart):
    """Net2WiderNet (Chen, Goodfellow & Shlens 2016, Section 3.1): each new unit copies the
    incoming weights and bias of a randomly chosen active unit ``j``; the outgoing weights of
    ``j`` are divided equally among ``j`` and its copies, so the next layer's input sum is
    unchanged. ``noise`` (relative) breaks the symmetry between copies, as the paper suggests.

    Outgoing weights are split only in the consumer's trainable chunks: its frozen chunks keep
    reading ``j`` as before and read the copies with zero weights (the function is the same
    either way, and a frozen unit's weights never change).

    >>> Net2Net(seed=3).get_config()
    {'seed': 3, 'noise': 0.01}
    """

    name = "net2net"

    def __init__(self, seed: int = 0, noise: float = 0.01):
        if noise < 0:
            raise ValueError(f"noise is a relative scale >= 0, got {noise}.")
        self.seed, self.noise = int(seed), float(noise)
        self._calls = 0

    def get_config(self) -> dict:
        return {"seed": self.seed, "noise": self.noise}

    def initialize(self, capacity, layer, start, stop, data=None) -> None:
        # a fresh, reproducible stream per growth
        rng = np.random.default_rng([self.seed, self._calls])
        self._calls += 1
        sources = rng.integers(0, start, size=stop - start)
        for unit, source in zip(range(start, stop), sources):
            kernel, bias = layer.incoming(int(source))
            jitter = self.noise * np.std(kernel) * rng.standard_normal(kernel.shape)
            layer.set_incoming(unit, kernel + jitter.astype(kernel.dtype), bias)
        consumer = capacity.consumer(layer)
        if consumer is None:
            return
        copies = np.bincount(sources, minlength=start)  # copies made of each source
        for chunk in range(consumer.active):
            new = np.zeros_like(consumer.input_rows(chunk, start, stop))
            if chunk >= consumer.frozen:
                old = consumer.input_rows(chunk, 0, start)
                share = old / (1 + copies).reshape([1] * (old.ndim - 2) + [-1, 1])
                consumer.set_input_rows(chunk, 0, start, share)
                new = np.take(share, sources, axis=-2)
            consumer.set_input_rows(chunk, start, stop, new)
