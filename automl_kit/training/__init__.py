"""Shared training machinery every capability builds on.

Compiled train steps per set of trainable variables (:class:`TrainSteps`, with gradient hooks),
the freezable-unit grouping of a model (:func:`freezable_units`), callbacks shared by searches
and trainers (:class:`FitnessGuard`), epoch-based learning-rate schedules (:class:`StepDecay`) and
the one training recipe every model is trained with (:class:`Recipe`).
This package imports no capability (search/, freezing/, ...): they import it.

>>> from automl_kit.training import StepDecay
>>> StepDecay(0.1, milestones=(2,)).stage_start(3)
2
"""

from automl_kit.training.batches import EpochBatches
from automl_kit.training.callbacks import FitnessGuard, StopAtSafePoint
from automl_kit.training.checkpoint import (
    EpochCheckpoint,
    read_checkpoint,
    restore_checkpoint,
    resumable_fit,
)
from automl_kit.training.optimizers import (
    ACTIVATIONS,
    OPTIMIZERS,
    SCHEDULES,
    activation,
    optimizer,
    schedule,
)
from automl_kit.training.recipe import (
    KeepBestWeights,
    Recipe,
    SparseLabelSmoothing,
    WarmupSchedule,
    augment_batch,
)
from automl_kit.training.schedules import StepDecay
from automl_kit.training.steps import GradientHook, GradientScales, GradientSums, TrainSteps
from automl_kit.training.units import NORMALIZATION, Unit, freezable_units, variables_after

__all__ = [
    "ACTIVATIONS",
    "NORMALIZATION",
    "OPTIMIZERS",
    "SCHEDULES",
    "activation",
    "optimizer",
    "schedule",
    "EpochBatches",
    "EpochCheckpoint",
    "read_checkpoint",
    "resumable_fit",
    "restore_checkpoint",
    "FitnessGuard",
    "KeepBestWeights",
    "Recipe",
    "SparseLabelSmoothing",
    "StopAtSafePoint",
    "WarmupSchedule",
    "augment_batch",
    "GradientHook",
    "GradientScales",
    "GradientSums",
    "StepDecay",
    "TrainSteps",
    "Unit",
    "freezable_units",
    "variables_after",
]
