"""Peers a Keras user would pick instead, driven on the same variable-depth space, fitness and budget.

KerasTuner (``RandomSearch``, ``Hyperband``, ``BayesianOptimization`` oracles) and Optuna (TPE
with a median pruner) propose the chromosomes; automl_kit trains and scores them exactly as it
does for its own searches. Needs the ``benchmarks`` extra: ``pip install -e ".[benchmarks]"``.
"""

from automl_kit.search.peers.keras_tuner import (
    KerasTunerBayesian,
    KerasTunerHyperband,
    KerasTunerRandom,
)
from automl_kit.search.peers.optuna_tpe import OptunaTPE

__all__ = ["KerasTunerBayesian", "KerasTunerHyperband", "KerasTunerRandom", "OptunaTPE"]
