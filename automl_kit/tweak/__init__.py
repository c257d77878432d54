"""Tweaking trained models without retraining (Kim's thesis, Chapters 3-4).

Synaptic join adds a few new synapses from active hidden neurons to target-class logits, chosen by
algorithm theta on tables of one forward pass; synaptic retraining trains only those synapses;
augmentation with active neurons (AAN) adds a small MLP on the active neurons' values.
"""

from automl_kit.tweak.theta import ThetaResult, theta, theta_reference

__all__ = ["ThetaResult", "theta", "theta_reference"]
