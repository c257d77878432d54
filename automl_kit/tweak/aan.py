"""Augmentation with active neurons, AAN (Kim's thesis, Chapter 4, Fig. 4.1b).

Active neurons for all classes are chosen by algorithm theta (a neuron's score is its best
``count`` over the classes, ties by threshold; by default the neurons with a count of at least
half the maximum, the thesis's definition of Table 3.2, at most ``max_active``). A one-hidden-layer
MLP on their values is trained with cross-entropy on ``C + MLP(V_active)``, fed from the stored
tables (table ``T``): the base model is never run while training. :meth:`apply` attaches the
same :class:`~automl_kit.tweak.layers.AugmentedHead` to the (untouched) base model.
"""

from __future__ import annotations

import numpy as np

from automl_kit.training import optimizer as make_optimizer
from automl_kit.tweak.join import check_matching
from automl_kit.tweak.tables import SynapticTables
from automl_kit.tweak.thetas import theta

__all__ = ["ActiveNeuronAugmentation", "select_active_neurons"]


def select_active_neurons(
    thresholds: np.ndarray, counts: np.ndarray, n_active: int | None, max_active: int
) -> np.ndarray:
    """Neuron indices, best first, by best count over classes (ties by the best finite threshold)."""
    best = counts.max(axis=1)
    thr = np.where(np.isfinite(thresholds), thresholds, -np.inf).max(axis=1)
    order = np.lexsort((-thr, -best))
    if n_active is None:
        n_active = int((best >= max(1, best.max()) / 2).sum())
    return order[: min(n_active, max_active, len(order))]


class ActiveNeuronAugmentation:
    """A small MLP on active neurons, added to the base logits, trained from the tables (Ch. 4)."""

    def __init__(
        self,
        *,
        n_active: int | None = None,
        max_active: int = 1000,
        hidden: int = 96,
        epochs: int = 5,
        batch_size: int = 150,
        learning_rate: float = 1e-3,
        optimizer: str = "adam",
        seed: int = 0,
        verbose: int = 0,
        backend: str = "numpy",
    ):
        self.n_active = None if n_active is None else int(n_active)
        self.max_active, self.hidden = int(max_active), int(hidden)
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.learning_rate, self.seed, self.verbose = float(learning_rate), int(seed), int(verbose)
        if (
            (self.n_active is not None and self.n_active < 1)
            or self.max_active < 1
            or self.hidden < 1
        ):
            raise ValueError(
                "n_active, max_active and hidden must be >= 1 (n_active None: the half-max rule)"
            )
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError("epochs and batch_size must be >= 1 and learning_rate > 0")
        self.optimizer = str(optimizer).lower()
        if backend not in ("numpy", "tensorflow"):
            raise ValueError(f"backend must be 'numpy' or 'tensorflow', got {backend!r}")
        self.backend = backend  # where theta runs: the same values either way
        make_optimizer(self.optimizer, self.learning_rate)  # an unknown name fails here

    def get_config(self) -> dict:
        return {
            "n_active": self.n_active,
            "max_active": self.max_active,
            "hidden": self.hidden,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "verbose": self.verbose,
            "backend": self.backend,
        }

    @classmethod
    def from_config(cls, config: dict) -> ActiveNeuronAugmentation:
        return cls(**config)

    def _layer(self, n_classes: int, neurons):
        from automl_kit.tweak.layers import AugmentedHead

        return AugmentedHead(n_classes, neurons, hidden=self.hidden, name="augmentation")

    def fit(
        self, tables: SynapticTables, validation_data: SynapticTables | None = None
    ) -> ActiveNeuronAugmentation:
        import keras

        from automl_kit.tweak.layers import train_head_on_tables

        if validation_data is not None:
            check_matching(tables, validation_data, "validation")
        r = theta(
            tables.iter_chunks(),
            tables.C,
            tables.labels,
            tables.predicted,
            tables.max_values,
            neuron_absmax=tables.neuron_absmax,
            backend=self.backend,
        )
        self.counts_ = r.counts
        self.active_ = select_active_neurons(r.thresholds, r.counts, self.n_active, self.max_active)
        self.layers_, self.n_classes_ = list(tables.layers), tables.n_classes
        keras.utils.set_random_seed(self.seed)
        layer = self._layer(tables.n_classes, [[1, i] for i in range(len(self.active_))])

        def inputs(t):
            return [t.C.T.astype(np.float32), t.rows(self.active_).T.copy()]

        val = None if validation_data is None else (inputs(validation_data), validation_data.labels)
        self.history_ = train_head_on_tables(
            layer,
            inputs(tables),
            tables.labels,
            val,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            verbose=self.verbose,
        )
        self.mlp_weights_ = [
            keras.ops.convert_to_numpy(w) for w in (layer.w1, layer.b1, layer.w2, layer.b2)
        ]
        self._trained = layer
        return self

    @property
    def added_parameters(self) -> int:
        """Parameters the augmentation adds to the base model."""
        return int(sum(w.size for w in self.mlp_weights_))

    def _check_fitted(self):
        if not hasattr(self, "mlp_weights_"):
            raise ValueError(
                "this ActiveNeuronAugmentation is not fitted yet; call fit(tables, ...)"
            )

    def summary(self) -> dict:
        """JSON-able: the active neurons, added parameters and the training history."""
        self._check_fitted()
        return {
            "method": "aan",
            "config": self.get_config(),
            "active_neurons": [
                list(SynapticTables.neuron_of(self.layers_, int(i))) for i in self.active_
            ],
            "added_parameters": self.added_parameters,
            "history": self.history_,
        }

    def save(self, run_dir) -> None:
        """``aan.json`` (the summary) and the MLP's weights as ``aan_w1.npy`` ... in ``run_dir``."""
        from automl_kit.utils import run_root, write_json

        root = run_root(run_dir)
        write_json(root / "aan.json", self.summary())
        for name, w in zip(("w1", "b1", "w2", "b2"), self.mlp_weights_):
            np.save(root / f"aan_{name}.npy", w)

    def add_to_logits(self, tables: SynapticTables) -> np.ndarray:
        """The augmented logits (classes x samples) from stored tables."""
        import keras

        self._check_fitted()
        active = tables.rows(self.active_).T
        out = keras.ops.convert_to_numpy(self._trained.augmentation(active))
        return tables.C.astype(np.float64) + out.T

    def apply(self, model, *, name: str = "augmentation"):
        """A new Keras model: ``model`` (untouched, layers shared) plus the augmentation."""
        from automl_kit.tweak.layers import AugmentedHead, attach_head, head_activation

        self._check_fitted()
        SynapticTables.check_layers(model, self.layers_, self.n_classes_)
        names = [n for n, _ in self.layers_]
        neurons = []
        for i in self.active_:
            layer, unit = SynapticTables.neuron_of(self.layers_, int(i))
            neurons.append([names.index(layer) + 1, unit])
        layer = AugmentedHead(
            self.n_classes_,
            neurons,
            hidden=self.hidden,
            activation=head_activation(model),
            name=name,
        )
        tweaked = attach_head(model, names, layer)
        for var, value in zip((layer.w1, layer.b1, layer.w2, layer.b2), self.mlp_weights_):
            var.assign(value)
        return tweaked
