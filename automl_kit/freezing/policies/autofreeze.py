"""AutoFreeze-style gradient-norm freezing (after Liu, Agarwal & Venkataraman 2021, arXiv:2102.01386)."""

from __future__ import annotations

import numpy as np

from automl_kit.freezing.policies.base import FreezingPolicy, GradientStatistics, float_array


class AutoFreeze(FreezingPolicy):
    """Progressively freeze leading layers whose gradient norm has stopped changing.

    After each epoch (from ``warmup_epochs`` on), every trainable unit's gradient norm over the
    epoch, ``||sum_j g_j||``, is compared with the previous epoch's: ``c_l = |n_l - n'_l| / n'_l``.
    Leading trainable units whose change is at or below the ``percentile``-th percentile of all trainable
    units' changes are frozen for the rest of training (a unit is frozen only if all units before
    it are). The last unit always trains. AutoFreeze evaluated this every few hundred iterations of
    BERT fine-tuning; here the interval is one epoch.

    >>> policy = AutoFreeze(percentile=50)
    """

    name = "autofreeze"
    uses_statistics = True

    def __init__(self, percentile: float = 50.0, warmup_epochs: int = 1):
        if not 0.0 < percentile < 100.0:
            raise ValueError(f"percentile must be in (0, 100), got {percentile}.")
        self.percentile, self.warmup_epochs = percentile, warmup_epochs
        self.prefix, self.history, self._previous = 0, [], None

    def setup(self, plan) -> None:
        super().setup(plan)
        self.prefix, self.history, self._previous = 0, [], None

    def collects_statistics(self, epoch: int) -> bool:
        return self.prefix < self.plan.num_layers - 1

    def update(self, epoch: int, statistics: GradientStatistics | None) -> None:
        if statistics is None:
            return
        norms, previous = statistics.norm_of_sum, self._previous
        self._previous = norms
        if previous is None or epoch < self.warmup_epochs:
            return
        active = np.arange(self.prefix, self.plan.num_layers)
        change = np.abs(norms[active] - previous[active]) / np.maximum(previous[active], 1e-12)
        if not np.all(np.isfinite(change)):
            return
        threshold = np.percentile(change, self.percentile)
        newly = 0
        for c in change[:-1]:  # the last unit never freezes
            if c > threshold:
                break
            newly += 1
        self.prefix += newly
        self.history.append(
            {"epoch": epoch, "threshold": float(threshold), "frozen_layers": self.prefix}
        )

    def frozen_prefix(self, epoch: int) -> int:
        return self.prefix

    def get_config(self) -> dict:
        return {"percentile": self.percentile, "warmup_epochs": self.warmup_epochs}

    def get_state(self) -> dict:
        previous = None if self._previous is None else self._previous.tolist()
        return {"prefix": self.prefix, "history": self.history, "previous": previous}

    def set_state(self, state: dict) -> None:
        self.prefix, self.history = int(state["prefix"]), list(state["history"])
        self._previous = None if state["previous"] is None else float_array(state["previous"])

    def summary(self) -> dict:
        return {**super().summary(), "decisions": self.history}
