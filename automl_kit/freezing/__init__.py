"""Intelligent layer freezing (Xiao, thesis Part 3) and its rivals, for custom loops and ``fit``.

>>> from automl_kit.freezing import FreezingTrainer, IntelligentFreezing
>>> trainer = FreezingTrainer(model, policy=IntelligentFreezing())   # doctest: +SKIP
>>> history = trainer.fit(x, y, epochs=30, validation_data=(x_val, y_val))  # doctest: +SKIP
"""

from automl_kit.freezing.callback import FreezingCallback
from automl_kit.freezing.job import TrainResult, train
from automl_kit.freezing.plots import plot_freezing_rates, plot_frozen_prefix
from automl_kit.freezing.policies import (
    POLICIES,
    AutoFreeze,
    FreezeOut,
    FreezingPolicy,
    GradientStatistics,
    IntelligentFreezing,
    NoFreezing,
    TrainingPlan,
)
from automl_kit.freezing.rates import (
    freezing_rate,
    freezing_rate_from_sums,
    layers_to_freeze,
    second_group_end,
    standardize_rates,
)
from automl_kit.freezing.trainer import FreezingTrainer
from automl_kit.training import StepDecay

__all__ = [
    "POLICIES",
    "AutoFreeze",
    "FreezeOut",
    "FreezingCallback",
    "FreezingPolicy",
    "FreezingTrainer",
    "GradientStatistics",
    "IntelligentFreezing",
    "NoFreezing",
    "StepDecay",
    "TrainResult",
    "TrainingPlan",
    "freezing_rate",
    "freezing_rate_from_sums",
    "layers_to_freeze",
    "plot_freezing_rates",
    "plot_frozen_prefix",
    "second_group_end",
    "standardize_rates",
    "train",
]
