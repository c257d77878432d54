"""The interface every freezing policy implements, and what the trainer hands it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from automl_kit.freezing.rates import freezing_rate_from_sums

if TYPE_CHECKING:
    from automl_kit.training import GradientSums


@dataclass(frozen=True)
class TrainingPlan:
    """What a policy may know before training: the units, the epochs and the learning-rate stages."""

    layer_names: tuple[str, ...]
    epochs: int
    steps_per_epoch: int | None = None
    stage_starts: tuple[int, ...] = (0,)

    @property
    def num_layers(self) -> int:
        return len(self.layer_names)

    def stage_start(self, epoch: int) -> int:
        return max(s for s in self.stage_starts if s <= epoch)


@dataclass(frozen=True)
class GradientStatistics:
    """Per-unit gradient sums over one epoch's iterations; NaN for units frozen in that epoch."""

    abs_of_sum: np.ndarray  # sum_i |sum_j g_ij|
    sum_of_abs: np.ndarray  # sum_i sum_j |g_ij|
    norm_of_sum: np.ndarray  # || sum_j g_j ||_2
    steps: int

    @classmethod
    def from_sums(
        cls, sums: GradientSums, unit_variables: Sequence[Sequence], prefix: int, steps: int
    ) -> GradientStatistics:
        """Reduce one epoch's per-variable sums per unit (cheap: once per epoch) into Eq. 3.1's terms.

        ``unit_variables[i]`` are unit i's variables; units before ``prefix`` were frozen (NaN).
        """
        n = len(unit_variables)
        abs_of_sum, sum_of_abs, squares = np.zeros(n), np.zeros(n), np.zeros(n)
        for unit, variables in enumerate(unit_variables):
            if unit < prefix:
                continue
            for v in variables:
                total, absolute = sums.totals(v)
                values = total.astype(np.float64)
                abs_of_sum[unit] += np.abs(values).sum()
                sum_of_abs[unit] += absolute
                squares[unit] += np.square(values).sum()
        nan = np.where(np.arange(n) < prefix, np.nan, 0.0)
        return cls(abs_of_sum + nan, sum_of_abs + nan, np.sqrt(squares) + nan, steps)

    @property
    def freezing_rates(self) -> np.ndarray:
        """Xiao Eq. 3.1 per unit (NaN where the unit was frozen)."""
        return np.array(
            [
                np.nan if np.isnan(a) else freezing_rate_from_sums(a, s)
                for a, s in zip(self.abs_of_sum, self.sum_of_abs)
            ]
        )


def float_array(values) -> np.ndarray:
    """A JSON list back to floats: ``None`` (how JSON stores NaN) becomes NaN again."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


class FreezingPolicy:
    """Decides, epoch by epoch, how many leading units skip backpropagation.

    Subclasses implement :meth:`frozen_prefix`; with ``uses_statistics`` they may ask for gradient
    statistics of an epoch (:meth:`collects_statistics`, delivered to :meth:`update` at its end); if
    ``scales_learning_rates``, give per-unit learning-rate multipliers (:meth:`unit_scales`).
    """

    name = "policy"
    scales_learning_rates = False
    uses_statistics = False  # True: the trainer compiles gradient sums into its steps

    def setup(self, plan: TrainingPlan) -> None:
        self.plan = plan

    def collects_statistics(self, epoch: int) -> bool:
        return False

    def frozen_prefix(self, epoch: int) -> int:
        raise NotImplementedError

    def update(self, epoch: int, statistics: GradientStatistics | None) -> None:
        """Called at the end of every epoch with that epoch's statistics (None if not collected)."""

    def unit_scales(self, progress: float) -> np.ndarray:
        """Learning-rate multiplier per unit at ``progress`` in [0, 1] of the run."""
        return np.ones(self.plan.num_layers, dtype=np.float32)

    def get_config(self) -> dict:
        """The constructor arguments (JSON-able); ``from_config`` inverts it."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> FreezingPolicy:
        return cls(**config)

    def get_state(self) -> dict:
        """What the policy learnt during a run (JSON-able), for checkpoints; see :meth:`set_state`."""
        return {}

    def set_state(self, state: dict) -> None:
        """Continue from :meth:`get_state` of an earlier run (called after :meth:`setup`)."""

    def summary(self) -> dict:
        """What the policy decided, for the run log (JSON-able)."""
        # "policy" is the key older freezing.json files use; "name" is the contract's
        return {"name": self.name, "policy": self.name, **self.get_config()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
