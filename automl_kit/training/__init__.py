"""Shared training machinery: compiled train steps per trainable set, units, callbacks."""

from automl_kit.training.callbacks import FitnessGuard

__all__ = ["FitnessGuard"]
