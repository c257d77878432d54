"""Freezing policies: one class per file behind :class:`FreezingPolicy`."""

from automl_kit.freezing.policies.autofreeze import AutoFreeze
from automl_kit.freezing.policies.base import FreezingPolicy, GradientStatistics, TrainingPlan
from automl_kit.freezing.policies.freezeout import FreezeOut
from automl_kit.freezing.policies.intelligent import IntelligentFreezing
from automl_kit.freezing.policies.no_freezing import NoFreezing
from automl_kit.registries import POLICIES  # name -> class, one table for the CLI and the API

__all__ = [
    "POLICIES",
    "AutoFreeze",
    "FreezeOut",
    "FreezingPolicy",
    "GradientStatistics",
    "IntelligentFreezing",
    "NoFreezing",
    "TrainingPlan",
]
