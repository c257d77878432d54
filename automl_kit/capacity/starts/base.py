"""``GrowthStart``: how the weights of new units are set when a partial layer grows."""

from __future__ import annotations

import numpy as np


class GrowthStart:
    """Sets new units ``[start, stop)`` of ``layer`` (and what its consumer reads from them).

    Called by :meth:`automl_kit.capacity.Capacity.grow` before the widths change, so the network
    it sees is the one before growth. A start preserves the network's function when it can
    (zero outgoing weights, Net2Net's split); the frozen units of the consumer always read new
    units with zero weights (the Capacity does that), so frozen units keep their outputs.
    """

    name = "base"
    # whether new units of a normalising layer (PartialConv2D(normalize=True)) start sensibly
    supports_normalization = True

    def initialize(self, capacity, layer, start: int, stop: int, data=None) -> None:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> GrowthStart:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def zero_outgoing(capacity, layer, start: int, stop: int) -> None:
    """The consumers' active chunks read units ``[start, stop)`` with zero weights."""
    for consumer in capacity.consumers(layer):
        for chunk in range(consumer.active):
            rows = consumer.input_rows(chunk, start, stop)
            consumer.set_input_rows(chunk, start, stop, np.zeros_like(rows))
