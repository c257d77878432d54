"""Freezing policies: one class per file behind :class:`FreezingPolicy`."""

from automl_kit.freezing.policies.autofreeze import AutoFreeze
from automl_kit.freezing.policies.base import FreezingPolicy, GradientStatistics, TrainingPlan
from automl_kit.freezing.policies.freezeout import FreezeOut
from automl_kit.freezing.policies.intelligent import IntelligentFreezing
from automl_kit.freezing.policies.no_freezing import NoFreezing

POLICIES = {
    policy.name: policy for policy in (NoFreezing, IntelligentFreezing, FreezeOut, AutoFreeze)
}

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
