"""Kept for compatibility: :class:`StepDecay` lives in :mod:`automl_kit.training.schedules`."""

from automl_kit.training.schedules import StepDecay

__all__ = ["StepDecay"]
