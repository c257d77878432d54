"""The baseline: every layer trains in every epoch."""

from __future__ import annotations

from automl_kit.freezing.policies.base import FreezingPolicy


class NoFreezing(FreezingPolicy):
    """Plain training through the same compiled step as the other policies (a fair baseline)."""

    name = "none"

    def frozen_prefix(self, epoch: int) -> int:
        return 0
