"""Tweaking trained models without retraining (Kim's thesis, Chapters 3-4).

Synaptic join adds a few new synapses from active hidden neurons to target-class logits, chosen by
algorithm theta on tables of one forward pass; synaptic retraining trains only those synapses;
augmentation with active neurons (AAN) adds a small MLP on the active neurons' values.

>>> from automl_kit.tweak import SynapticJoin, extract_tables
>>> tables = extract_tables(model, x_train, y_train, layers=["relu"], directory="tables")  # doctest: +SKIP
>>> val = extract_tables(model, x_val, y_val, layers=["relu"])  # doctest: +SKIP
>>> tweaked = SynapticJoin(targets=[3]).fit(tables, validation_data=val).apply(model)  # doctest: +SKIP
"""

from automl_kit.tweak.aan import ActiveNeuronAugmentation, select_active_neurons
from automl_kit.tweak.calibration import PriorCalibration
from automl_kit.tweak.job import TweakResult, tweak
from automl_kit.tweak.join import SynapticJoin, rank_synapses
from automl_kit.tweak.layers import AugmentedHead, SynapticHead, attach, attach_head
from automl_kit.tweak.retraining import SynapticRetraining
from automl_kit.tweak.tables import SynapticTables, extract_tables
from automl_kit.tweak.thetas import ThetaResult, theta, theta_reference

__all__ = [
    "ActiveNeuronAugmentation",
    "AugmentedHead",
    "PriorCalibration",
    "SynapticRetraining",
    "attach_head",
    "select_active_neurons",
    "SynapticHead",
    "SynapticJoin",
    "SynapticTables",
    "ThetaResult",
    "attach",
    "extract_tables",
    "rank_synapses",
    "theta",
    "theta_reference",
    "tweak",
    "TweakResult",
]
