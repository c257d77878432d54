"""``KeepInit``: new units keep the weights drawn when the full width was allocated (the thesis)."""

from __future__ import annotations

from automl_kit.capacity.starts.base import GrowthStart


class KeepInit(GrowthStart):
    """The thesis's growth (Chapter 5.1): all capacity is initialised (Xavier) before training
    and new units join with those weights, both incoming and outgoing; the function changes
    at each growth (the error spikes of its Figure 5.3).

    >>> KeepInit().get_config()
    {}
    """

    name = "keep_init"

    def initialize(self, capacity, layer, start, stop, data=None) -> None:
        """Nothing to do: the allocated weights are used as they are."""
