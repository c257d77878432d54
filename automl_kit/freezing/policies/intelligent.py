"""Xiao's intelligent freezing (thesis Part 3, Algorithm 1), by default with safety rules."""

from __future__ import annotations

import math

import numpy as np

from automl_kit.freezing.policies.base import FreezingPolicy, GradientStatistics, float_array
from automl_kit.freezing.rates import layers_to_freeze, second_group_end, standardize_rates

# mode -> defaults of the options left as None
MODES = {
    "safe": {"every": 1, "second_every": 0, "confirm": 2, "growth": 0.5, "keep_frozen": True},
    "thesis": {"every": 2, "second_every": 6, "confirm": 1, "growth": 1.0, "keep_frozen": False},
}


class IntelligentFreezing(FreezingPolicy):
    """Freeze the prefix picked from gradient-sign statistics, per learning-rate stage.

    In every stage: ``warmup_epochs`` epochs without freezing, the last of which accumulates the
    gradients; then the freezing rates (Eq. 3.1) are standardised (Eq. 3.3) and the prefix with
    the largest sum (Eq. 3.4) becomes group 1, the best longer prefix group 2 (see
    :mod:`automl_kit.freezing.rates`). Counting the epochs after the decision from 0, group 1 is
    frozen in epochs ``0, every, 2*every, ...`` and layers 1..n2 in epochs ``second_every-1,
    2*second_every-1, ...``; the rest train fully. Rates are measured once per stage because they
    stay stable within one (thesis Section 3.2.4), which keeps the overhead to an epoch of sums.

    ``mode="thesis"`` is Algorithm 1 (``every=2``, ``second_every=6``, one measurement, no growth
    limit). ``mode="safe"`` (default) adds the rules below: right after a warm-up epoch at a high
    learning rate every layer's rates are alike (0.77-0.87 on ResNet-20/CIFAR-10), so the chosen
    prefix is noise (5, 4, 6 units in epochs 1-3) and one unlucky measurement used to freeze 21 of
    22 units for the whole stage (benchmarks/README.md, "freezing"). The rules, one line each:

    * ``confirm``: the prefix is the smallest group 1 of the stage's last ``confirm`` measurements,
      taken in consecutive unfrozen epochs (a lone noisy measurement cannot freeze anything).
    * ``growth``: after the decision the frozen prefix grows by at most ``ceil(growth * units)``
      units per epoch (multiples of that step, so few distinct prefixes, few compilations).
    * ``every=1``, ``second_every=0`` (no group 2): the confirmed prefix stays frozen for the rest of the
      stage (continuous freezing; one compiled step per prefix, cached, so no retracing).
    * ``keep_frozen``: a later stage keeps the prefix the previous stage froze while it measures
      and measures only the units after it (their rates standardised among themselves); its
      decision extends that prefix. The prefix never shrinks, so later stages spend no epoch
      fully unfrozen (FreezeOut and AutoFreeze never unfreeze either).
    * ``remeasure_empty`` (both modes; ``False`` is Algorithm 1 as written): a decision of no
      layers is measured again in the next epoch instead of training the whole stage unfrozen.

    Options left as ``None`` take their mode's value (``MODES``); given ones override it.

    >>> IntelligentFreezing()
    IntelligentFreezing(mode='safe', warmup_epochs=1, every=1, second_every=0, remeasure_empty=True, confirm=2, growth=0.5, keep_frozen=True)
    >>> IntelligentFreezing.thesis().every
    2
    """

    name = "intelligent"
    uses_statistics = True

    def __init__(
        self,
        mode: str = "safe",
        warmup_epochs: int = 1,
        every: int | None = None,
        second_every: int | None = None,
        remeasure_empty: bool = True,
        confirm: int | None = None,
        growth: float | None = None,
        keep_frozen: bool | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}.")
        defaults = MODES[mode]
        every = defaults["every"] if every is None else every
        second_every = defaults["second_every"] if second_every is None else second_every
        confirm = defaults["confirm"] if confirm is None else confirm
        growth = defaults["growth"] if growth is None else growth
        keep_frozen = defaults["keep_frozen"] if keep_frozen is None else bool(keep_frozen)
        if warmup_epochs < 1:
            raise ValueError(
                f"warmup_epochs must be >= 1 (its last epoch measures the rates), got {warmup_epochs}."
            )
        if every < 1 or second_every < 0:
            raise ValueError(
                f"every and second_every are periods in epochs (>= 1; second_every=0: no group 2), "
                f"got {every}, {second_every}."
            )
        if confirm < 1:
            raise ValueError(f"confirm counts measurements (>= 1), got {confirm}.")
        if not 0.0 < growth <= 1.0:
            raise ValueError(
                f"growth is a share of the units in (0, 1] (1: no limit), got {growth}."
            )
        self.mode, self.warmup_epochs = mode, warmup_epochs
        self.every, self.second_every = every, second_every
        self.remeasure_empty, self.confirm, self.growth = remeasure_empty, confirm, growth
        self.keep_frozen = keep_frozen
        self.stages: dict[int, dict] = {}

    @classmethod
    def thesis(cls, **options) -> IntelligentFreezing:
        """Algorithm 1 as the thesis states it (plus ``remeasure_empty``): ``mode="thesis"``."""
        return cls(mode="thesis", **options)

    def setup(self, plan) -> None:
        super().setup(plan)
        self.stages = {}  # stage start epoch -> the stage's measurements and decision

    def collects_statistics(self, epoch: int) -> bool:
        start = self.plan.stage_start(epoch)
        if epoch - start == self.warmup_epochs - 1:
            return True
        last = self.stages.get(start)
        if last is None or self._decided(last) or last["measured_in_epoch"] != epoch - 1:
            return False
        return self.remeasure_empty or len(last["choices"]) < self.confirm

    @staticmethod
    def _decided(stage: dict) -> bool:
        """The stage froze units beyond those it kept from the previous stage."""
        return stage["group1_layers"] > stage.get("kept", 0)

    def _kept(self, start: int) -> int:
        """The prefix a stage starting at ``start`` keeps frozen: the previous stage's."""
        if not self.keep_frozen:
            return 0
        earlier = [s for s in self.plan.stage_starts if s < start]
        if not earlier:
            return 0
        previous = self.stages.get(max(earlier))
        if previous is None:
            return 0
        return max(previous["group1_layers"], previous.get("kept", 0))

    def update(self, epoch: int, statistics: GradientStatistics | None) -> None:
        if statistics is None or not self.collects_statistics(epoch):
            return
        rates = statistics.freezing_rates
        start = self.plan.stage_start(epoch)
        kept = self._kept(start)
        # the kept units were frozen (NaN rates): Eq. 3.3-3.4 over the units after them
        tail = standardize_rates(rates[kept:])
        standardized = np.concatenate([np.full(kept, np.nan), tail])
        choices = [*self.stages.get(start, {}).get("choices", []), kept + layers_to_freeze(tail)]
        decided = min(choices[-self.confirm :]) if len(choices) >= self.confirm else kept
        group2 = second_group_end(tail, decided - kept)
        self.stages[start] = {
            "measured_in_epoch": epoch,
            "measurements": len(choices),
            "choices": choices,  # group 1 of each measurement, kept units included
            "freezing_rates": rates.tolist(),
            "standardized_rates": standardized.tolist(),
            "kept": kept,
            "group1_layers": decided,
            "group2_layers": kept + group2 if group2 else 0,
        }

    def frozen_prefix(self, epoch: int) -> int:
        start = self.plan.stage_start(epoch)
        decision = self.stages.get(start)
        kept = self._kept(start)
        if decision is None or not self._decided(decision):
            return kept
        since = epoch - decision["measured_in_epoch"] - 1
        if since < 0:  # asked about a measuring epoch after the fact: it trained with `kept`
            return kept
        step = math.ceil(self.growth * self.plan.num_layers)
        limit = kept + step * (since + 1)
        if self.second_every and since % self.second_every == self.second_every - 1:
            if decision["group2_layers"]:
                return min(decision["group2_layers"], limit)
        return min(decision["group1_layers"], limit) if since % self.every == 0 else kept

    def get_config(self) -> dict:
        return {
            "mode": self.mode,
            "warmup_epochs": self.warmup_epochs,
            "every": self.every,
            "second_every": self.second_every,
            "remeasure_empty": self.remeasure_empty,
            "confirm": self.confirm,
            "growth": self.growth,
            "keep_frozen": self.keep_frozen,
        }

    @classmethod
    def from_config(cls, config: dict) -> IntelligentFreezing:
        # configs written before the modes existed hold Algorithm 1's options; safe-mode
        # configs written before keep_frozen existed did not keep a prefix across stages
        return cls(**{"mode": "thesis", "keep_frozen": False, **config})

    def get_state(self) -> dict:
        return {"stages": {str(k): v for k, v in self.stages.items()}}

    def set_state(self, state: dict) -> None:
        self.stages = {
            int(start): {
                # states saved before "choices" existed: one choice per measurement
                "choices": [stage["group1_layers"]] * stage["measurements"],
                **stage,
                "freezing_rates": float_array(stage["freezing_rates"]).tolist(),
                "standardized_rates": float_array(stage["standardized_rates"]).tolist(),
            }
            for start, stage in state["stages"].items()
        }

    def summary(self) -> dict:
        return {**super().summary(), "stages": {str(k): v for k, v in sorted(self.stages.items())}}
