"""``ZeroOutgoing``: new units start with zero outgoing weights, so the function is unchanged."""

from __future__ import annotations

from automl_kit.capacity.starts.base import GrowthStart, zero_outgoing


class ZeroOutgoing(GrowthStart):
    """New units keep their allocated incoming weights; what the next layer reads from them is
    zero, so the network computes exactly what it did before the growth. The outgoing weights
    get a gradient at once (the new units' activations are not zero), so they start to learn
    on the next step.

    >>> ZeroOutgoing().name
    'zero_outgoing'
    """

    name = "zero_outgoing"

    def initialize(self, capacity, layer, start, stop, data=None) -> None:
        zero_outgoing(capacity, layer, start, stop)
