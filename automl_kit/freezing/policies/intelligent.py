"""Xiao's intelligent freezing (thesis Part 3, Algorithm 1)."""

from __future__ import annotations

from automl_kit.freezing.policies.base import FreezingPolicy, GradientStatistics, float_array
from automl_kit.freezing.rates import layers_to_freeze, second_group_end, standardize_rates


class IntelligentFreezing(FreezingPolicy):
    """Freeze the prefix picked from gradient-sign statistics, per learning-rate stage.

    In every stage: ``warmup_epochs`` epochs without freezing, the last of which accumulates the
    gradients; then the freezing rates (Eq. 3.1) are standardised (Eq. 3.3) and the prefix with
    the largest sum (Eq. 3.4) becomes group 1, the best longer prefix group 2 (see
    :mod:`automl_kit.freezing.rates`). Counting the epochs after the measurement from 0, group 1 is
    frozen in epochs ``0, every, 2*every, ...`` and layers 1..n2 in epochs ``second_every-1,
    2*second_every-1, ...``; the rest train fully. Rates are computed once per stage because they
    stay stable within one (thesis Section 3.2.4), which keeps the overhead to one epoch of sums.

    ``remeasure_empty`` (our addition; ``False`` is Algorithm 1 as written): when a measurement
    picks no layers (typical of the very first epoch from random initialisation, where early
    layers' gradients still agree in sign), measure again in the next epoch instead of training
    the whole stage unfrozen: the thesis's warm-up is there "to let things stabilize".

    >>> policy = IntelligentFreezing(warmup_epochs=1, every=2, second_every=6)
    """

    name = "intelligent"
    uses_statistics = True

    def __init__(
        self,
        warmup_epochs: int = 1,
        every: int = 2,
        second_every: int | None = 6,
        remeasure_empty: bool = True,
    ):
        if warmup_epochs < 1:
            raise ValueError(
                f"warmup_epochs must be >= 1 (its last epoch measures the rates), got {warmup_epochs}."
            )
        if every < 1 or (second_every is not None and second_every < 1):
            raise ValueError(
                f"every and second_every are periods in epochs (>= 1), got {every}, {second_every}."
            )
        self.warmup_epochs, self.every, self.second_every = warmup_epochs, every, second_every
        self.remeasure_empty = remeasure_empty
        self.stages: dict[int, dict] = {}

    def setup(self, plan) -> None:
        super().setup(plan)
        self.stages = {}  # stage start epoch -> the stage's latest measurement and decision

    def collects_statistics(self, epoch: int) -> bool:
        start = self.plan.stage_start(epoch)
        if epoch - start == self.warmup_epochs - 1:
            return True
        last = self.stages.get(start)
        return (
            self.remeasure_empty
            and last is not None
            and last["group1_layers"] == 0
            and last["measured_in_epoch"] == epoch - 1
        )

    def update(self, epoch: int, statistics: GradientStatistics | None) -> None:
        if statistics is None or not self.collects_statistics(epoch):
            return
        rates = statistics.freezing_rates
        standardized = standardize_rates(rates)
        first = layers_to_freeze(standardized)
        start = self.plan.stage_start(epoch)
        self.stages[start] = {
            "measured_in_epoch": epoch,
            "measurements": self.stages.get(start, {}).get("measurements", 0) + 1,
            "freezing_rates": rates.tolist(),
            "standardized_rates": standardized.tolist(),
            "group1_layers": first,
            "group2_layers": second_group_end(standardized, first),
        }

    def frozen_prefix(self, epoch: int) -> int:
        decision = self.stages.get(self.plan.stage_start(epoch))
        if decision is None or decision["group1_layers"] == 0:
            return 0
        since = epoch - decision["measured_in_epoch"] - 1
        if self.second_every and since % self.second_every == self.second_every - 1:
            if decision["group2_layers"]:
                return decision["group2_layers"]
        return decision["group1_layers"] if since % self.every == 0 else 0

    def get_config(self) -> dict:
        return {
            "warmup_epochs": self.warmup_epochs,
            "every": self.every,
            "second_every": self.second_every,
            "remeasure_empty": self.remeasure_empty,
        }

    def get_state(self) -> dict:
        return {"stages": {str(k): v for k, v in self.stages.items()}}

    def set_state(self, state: dict) -> None:
        self.stages = {
            int(start): {
                **stage,
                "freezing_rates": float_array(stage["freezing_rates"]).tolist(),
                "standardized_rates": float_array(stage["standardized_rates"]).tolist(),
            }
            for start, stage in state["stages"].items()
        }

    def summary(self) -> dict:
        return {**super().summary(), "stages": {str(k): v for k, v in sorted(self.stages.items())}}
