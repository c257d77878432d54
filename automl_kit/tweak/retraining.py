"""Synaptic retraining (Kim's thesis, Section 3.2.4): train only the synapses a join added.

The base model stays frozen and is never run: the inputs are the stored tables (the target
logits ``C`` and the rows of ``V`` of the synapses' neurons, ``|T| x |D|`` values), so an epoch
costs a pass over ``|T| + |C|`` numbers per sample instead of a forward pass through the base.
The trained layer is the same :class:`~automl_kit.tweak.layers.SynapticHead` that
:meth:`apply` attaches to the model (fed the logits through an identity kernel here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl_kit.training import optimizer as make_optimizer
from automl_kit.tweak.join import SynapticJoin, check_matching
from automl_kit.tweak.tables import SynapticTables

__all__ = ["SynapticRetraining"]


def _table_inputs(tables: SynapticTables, neurons: np.ndarray) -> list[np.ndarray]:
    return [tables.C.T.astype(np.float32), tables.rows(neurons).T.copy()]


class SynapticRetraining:
    """Retrain the weights of a synaptic join's synapses with cross-entropy, everything else frozen.

    ``fit(tables, validation_data, join=None)`` starts from ``join``'s synapses and weights (a
    :class:`SynapticJoin` with ``join_options`` is fitted first when none is given).
    """

    def __init__(
        self,
        targets: Sequence[int],
        *,
        join_options: dict | None = None,
        epochs: int = 5,
        batch_size: int = 150,
        learning_rate: float = 1e-3,
        optimizer: str = "adam",
        seed: int = 0,
        verbose: int = 0,
    ):
        self.targets = [int(t) for t in np.atleast_1d(targets)]
        self.join_options = dict(join_options or {})
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.learning_rate, self.seed, self.verbose = float(learning_rate), int(seed), int(verbose)
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError("epochs and batch_size must be >= 1 and learning_rate > 0")
        self.optimizer = str(optimizer).lower()
        make_optimizer(self.optimizer, self.learning_rate)  # an unknown name fails here
        SynapticJoin(self.targets, **self.join_options)  # checks targets and options now

    def get_config(self) -> dict:
        return {
            "targets": self.targets,
            "join_options": self.join_options,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config: dict) -> SynapticRetraining:
        return cls(**config)

    def fit(
        self,
        tables: SynapticTables,
        validation_data: SynapticTables | None = None,
        join: SynapticJoin | None = None,
    ) -> SynapticRetraining:
        import keras

        from automl_kit.tweak.layers import SynapticHead, train_head_on_tables

        if join is None:
            join = SynapticJoin(self.targets, **self.join_options).fit(tables, validation_data)
        join._check_fitted()
        if validation_data is not None:
            check_matching(tables, validation_data, "validation")
        self.join_ = join
        self.layers_, self.n_classes_ = join.layers_, join.n_classes_
        self.neurons_, self.synapse_targets_ = join.neurons_, join.synapse_targets_
        self.initial_weights_ = join.weights_.copy()
        keras.utils.set_random_seed(self.seed)
        targets = enumerate(self.synapse_targets_)
        layer = SynapticHead(tables.n_classes, [[1, i, int(t)] for i, t in targets])
        val = None
        if validation_data is not None:
            val = (_table_inputs(validation_data, self.neurons_), validation_data.labels)
        self.history_ = train_head_on_tables(
            layer,
            _table_inputs(tables, self.neurons_),
            tables.labels,
            val,
            init=lambda head: head.synapse_weights.assign(self.initial_weights_.astype(np.float32)),
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            verbose=self.verbose,
        )
        self.weights_ = keras.ops.convert_to_numpy(layer.synapse_weights).astype(np.float64)
        return self

    def _check_fitted(self):
        if not hasattr(self, "weights_"):
            raise ValueError("this SynapticRetraining is not fitted yet; call fit(tables, ...)")

    def summary(self) -> dict:
        """JSON-able: the synapses with their initial (join) and retrained weights, the history."""
        self._check_fitted()
        return {
            "method": "synaptic_retraining",
            "config": self.get_config(),
            "neurons": [
                list(SynapticTables.neuron_of(self.layers_, int(i))) for i in self.neurons_
            ],
            "targets": self.synapse_targets_.tolist(),
            "initial_weights": self.initial_weights_.tolist(),
            "weights": self.weights_.tolist(),
            "history": self.history_,
        }

    def save(self, run_dir) -> None:
        """``retraining.json`` (the summary) in ``run_dir``."""
        from automl_kit.utils import run_root, write_json

        root = run_root(run_dir)
        write_json(root / "retraining.json", self.summary())

    def add_to_logits(self, tables: SynapticTables) -> np.ndarray:
        """``C`` plus the retrained synapses (classes x samples)."""
        self._check_fitted()
        logits = tables.C.astype(np.float64).copy()
        np.add.at(
            logits, self.synapse_targets_, self.weights_[:, None] * tables.rows(self.neurons_)
        )
        return logits

    def apply(self, model, *, name: str = "synapses"):
        """A new Keras model: ``model`` (untouched) plus the retrained synapses (removable layer)."""
        from automl_kit.tweak.layers import attach

        self._check_fitted()
        SynapticTables.check_layers(model, self.layers_, self.n_classes_)
        names = [n for n, _ in self.layers_]
        syn = []
        for i, t in zip(self.neurons_, self.synapse_targets_):
            layer, unit = SynapticTables.neuron_of(self.layers_, int(i))
            syn.append([names.index(layer), unit, int(t)])
        return attach(model, names, syn, self.weights_, name=name)
