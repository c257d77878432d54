"""``Net2Net``: function-preserving widening by copying units and splitting their outgoing weights."""

from __future__ import annotations

import numpy as np

from automl_kit.capacity.starts.base import GrowthStart


class Net2Net(GrowthStart):
    """Net2WiderNet (Chen, Goodfellow & Shlens 2016, Section 3.1): each new unit copies the
    incoming weights and bias of a randomly chosen active unit ``j``; the outgoing weights of
    ``j`` are divided equally among ``j`` and its copies, so the next layer's input sum is
    unchanged. ``noise`` (relative) breaks the symmetry between copies, as the paper suggests.

    With batch normalisation (``PartialConv2D(normalize=True)``) a copy also takes its source's
    ``gamma``, ``beta`` and moving statistics.

    Outgoing weights are split only in the consumer's trainable chunks: its frozen chunks (also
    those this growth freezes) keep reading ``j`` as before and read the copies with zero weights
    (the function is the same either way, and a frozen unit's weights never change). Layers
    summed by a residual ``Add`` copy the same sources, so a copied stream channel equals its
    source.

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
        # layers summed by a residual Add (branch and shortcut) copy the same sources, so the
        # copied stream channel equals its source; the group's first layer does it for all
        group = capacity.tied(layer)
        if layer is not group[0]:
            return
        # a fresh, reproducible stream per growth
        rng = np.random.default_rng([self.seed, self._calls])
        self._calls += 1
        sources = rng.integers(0, start, size=stop - start)
        for member in group:
            for unit, source in zip(range(start, stop), sources):
                kernel, bias = member.incoming(int(source))
                jitter = self.noise * np.std(kernel) * rng.standard_normal(kernel.shape)
                member.set_incoming(unit, kernel + jitter.astype(kernel.dtype), bias)
                if getattr(member, "normalize", False):  # the copy normalises as its source
                    member.set_unit_normalization(unit, member.unit_normalization(int(source)))
        copies = np.bincount(sources, minlength=start)  # copies made of each source
        for consumer in capacity.consumers(layer):
            frozen = capacity.frozen_after(consumer)
            self._split(consumer, frozen, sources, copies, start, stop)

    @staticmethod
    def _split(consumer, frozen, sources, copies, start, stop) -> None:
        """The consumer's trainable chunks share each source's outgoing weight with its copies
        (chunks frozen after this growth keep reading the source alone)."""
        for chunk in range(consumer.active):
            new = np.zeros_like(consumer.input_rows(chunk, start, stop))
            if chunk >= frozen:
                old = consumer.input_rows(chunk, 0, start)
                share = old / (1 + copies).reshape([1] * (old.ndim - 2) + [-1, 1])
                consumer.set_input_rows(chunk, 0, start, share)
                new = np.take(share, sources, axis=-2)
            consumer.set_input_rows(chunk, start, stop, new)
