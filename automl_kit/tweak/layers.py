"""The removable part a tweak adds to a model: a head copy plus new synapses into its logits.

:func:`attach` builds ``inputs -> base body (shared, untouched) -> SynapticHead``. The
``SynapticHead`` holds a frozen copy of the base head's kernel and bias (so it can add to the
pre-softmax logits without touching the base's head) and the new synapse weights; the base model
object is never modified and stays usable as it was: removing the join means using the base.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from automl_kit.utils.models import classification_head, outputs_probabilities

__all__ = ["AugmentedHead", "SynapticHead", "attach", "attach_head"]


@keras.saving.register_keras_serializable(package="automl_kit")
class SynapticHead(keras.layers.Layer):
    """``activation(x @ kernel + bias + sum_s w_s * feature[s])`` for synapses ``s`` into their targets.

    Inputs: ``[head input, feature map 1, ..., feature map m]``. ``synapses``: a list of
    ``[feature input (1..m), flat unit index, target class]``; ``kernel``/``bias`` are frozen,
    only ``synapse_weights`` is trainable (synaptic retraining trains exactly these).

    >>> h = SynapticHead(2, synapses=[[1, 0, 1]])
    >>> out = h([np.ones((1, 3), "float32"), np.full((1, 4), 2.0, "float32")])
    >>> _ = h.synapse_weights.assign([0.5])
    >>> keras.ops.convert_to_numpy(h([np.ones((1, 3)), np.full((1, 4), 2.0)])).tolist()
    [[0.0, 1.0]]
    """

    def __init__(
        self, units: int, synapses: Sequence[Sequence[int]] = (), activation="linear", **kwargs
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.synapses = [[int(a), int(b), int(c)] for a, b, c in synapses]
        self.activation = keras.activations.get(activation)
        for _, _, target in self.synapses:
            if not 0 <= target < self.units:
                raise ValueError(f"synapse target {target} out of range 0..{self.units - 1}")

    def build(self, input_shape):
        in_dim = int(input_shape[0][-1])
        self.kernel = self.add_weight(
            shape=(in_dim, self.units), initializer="zeros", trainable=False, name="kernel"
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer="zeros", trainable=False, name="bias"
        )
        self.synapse_weights = self.add_weight(
            shape=(len(self.synapses),), initializer="zeros", trainable=True, name="synapse_weights"
        )
        onehot = np.zeros((len(self.synapses), self.units), np.float32)
        for s, (_, _, target) in enumerate(self.synapses):
            onehot[s, target] = 1.0
        self._onehot = onehot
        self._groups = []
        for k in sorted({s[0] for s in self.synapses}):
            pos = [s for s, syn in enumerate(self.synapses) if syn[0] == k]
            self._groups.append(
                (k, np.array([self.synapses[s][1] for s in pos], np.int32), np.array(pos))
            )
        order = np.concatenate([g[2] for g in self._groups]) if self._groups else np.zeros(0, int)
        # concatenating the groups permutes the synapses; undo it so weight s meets feature s
        self._inverse = np.argsort(order).astype(np.int32)

    def call(self, inputs):
        x, feats = inputs[0], inputs[1:]
        z = keras.ops.matmul(x, self.kernel) + self.bias
        if self.synapses:
            parts = []
            for k, idx, _ in self._groups:
                f = keras.ops.reshape(feats[k - 1], (keras.ops.shape(feats[k - 1])[0], -1))
                parts.append(keras.ops.take(f, idx, axis=1))
            g = keras.ops.take(keras.ops.concatenate(parts, axis=1), self._inverse, axis=1)
            z = z + keras.ops.matmul(g * self.synapse_weights, self._onehot)
        return self.activation(z)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "synapses": self.synapses,
            "activation": keras.activations.serialize(self.activation),
        }


def attach(
    model: keras.Model, layers: Sequence[str], synapses, weights, *, name: str = "synapses"
) -> keras.Model:
    """A new model: ``model``'s body (shared) and a :class:`SynapticHead` with ``synapses``/``weights``.

    ``synapses``: ``[layer position in layers (0-based), flat unit, target]`` rows.
    """
    head = classification_head(model)
    feats = [model.get_layer(n).output for n in layers]
    activation = "softmax" if outputs_probabilities(model) else "linear"
    syn = [[int(k) + 1, int(u), int(t)] for k, u, t in synapses]
    layer = SynapticHead(head.units, syn, activation=activation, name=name)
    out = layer([head.input, *feats])
    kernel = keras.ops.convert_to_numpy(head.kernel)
    bias = (
        keras.ops.convert_to_numpy(head.bias) if head.use_bias else np.zeros(head.units, np.float32)
    )
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    layer.synapse_weights.assign(np.asarray(weights, np.float32))
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, out, name=f"{model.name}_tweaked")


@keras.saving.register_keras_serializable(package="automl_kit")
class AugmentedHead(keras.layers.Layer):
    """``activation(x @ kernel + bias + MLP(active neurons))``: augmentation with active neurons.

    Inputs: ``[head input, feature map 1, ..., feature map m]``; ``neurons``: ``[feature input
    (1..m), flat unit index]`` rows, fed to one hidden ReLU layer of ``hidden`` units whose linear
    output is added to the (frozen) base logits (thesis Fig. 4.1b).
    """

    def __init__(
        self,
        units: int,
        neurons: Sequence[Sequence[int]] = (),
        hidden: int = 96,
        activation="linear",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.hidden = int(units), int(hidden)
        self.neurons = [[int(a), int(b)] for a, b in neurons]
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        in_dim = int(input_shape[0][-1])
        self.kernel = self.add_weight(
            shape=(in_dim, self.units), initializer="zeros", trainable=False, name="kernel"
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer="zeros", trainable=False, name="bias"
        )
        a = len(self.neurons)
        self.w1 = self.add_weight(shape=(a, self.hidden), initializer="glorot_uniform", name="w1")
        self.b1 = self.add_weight(shape=(self.hidden,), initializer="zeros", name="b1")
        self.w2 = self.add_weight(shape=(self.hidden, self.units), initializer="zeros", name="w2")
        self.b2 = self.add_weight(shape=(self.units,), initializer="zeros", name="b2")
        self._groups, order = [], []
        for k in sorted({n[0] for n in self.neurons}):
            pos = [i for i, n in enumerate(self.neurons) if n[0] == k]
            self._groups.append((k, np.array([self.neurons[i][1] for i in pos], np.int32)))
            order.extend(pos)
        self._inverse = np.argsort(np.array(order, dtype=np.int64)).astype(np.int32)

    def augmentation(self, active):
        """The MLP's output for the active neurons' values ``(batch, len(neurons))``."""
        h = keras.ops.relu(keras.ops.matmul(active, self.w1) + self.b1)
        return keras.ops.matmul(h, self.w2) + self.b2

    def call(self, inputs):
        x, feats = inputs[0], inputs[1:]
        parts = []
        for k, idx in self._groups:
            f = keras.ops.reshape(feats[k - 1], (keras.ops.shape(feats[k - 1])[0], -1))
            parts.append(keras.ops.take(f, idx, axis=1))
        active = keras.ops.take(keras.ops.concatenate(parts, axis=1), self._inverse, axis=1)
        return self.activation(
            keras.ops.matmul(x, self.kernel) + self.bias + self.augmentation(active)
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "neurons": self.neurons,
            "hidden": self.hidden,
            "activation": keras.activations.serialize(self.activation),
        }


def attach_head(
    model: keras.Model, layers: Sequence[str], layer: keras.layers.Layer
) -> keras.Model:
    """A new model: ``model``'s body (shared) then ``layer`` on ``[head input, *layers' outputs]``,
    with ``layer.kernel``/``layer.bias`` set to the base head's."""
    head = classification_head(model)
    feats = [model.get_layer(n).output for n in layers]
    out = layer([head.input, *feats])
    layer.kernel.assign(keras.ops.convert_to_numpy(head.kernel))
    if head.use_bias:
        layer.bias.assign(keras.ops.convert_to_numpy(head.bias))
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, out, name=f"{model.name}_tweaked")


def head_activation(model: keras.Model) -> str:
    """``"softmax"`` when the base model outputs probabilities, else ``"linear"``."""
    return "softmax" if outputs_probabilities(model) else "linear"


def train_head_on_tables(
    layer: keras.layers.Layer,
    inputs,
    labels: np.ndarray,
    validation: tuple | None,
    *,
    init=None,
    optimizer: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    verbose: int,
) -> dict[str, list[float]]:
    """Train ``layer`` (a :class:`SynapticHead` or :class:`AugmentedHead` not yet built) on the
    stored tables: ``inputs`` are ``[logits (n, K), neuron values (n, m)]``, the base logits pass
    through an identity kernel, and ``init(layer)`` sets the other weights before training.
    The caller seeds first (``keras.utils.set_random_seed``). Returns the history, floats."""
    from automl_kit.training import optimizer as make_optimizer

    logits_in = keras.Input((inputs[0].shape[1],))
    values_in = keras.Input((inputs[1].shape[1],))
    model = keras.Model([logits_in, values_in], layer([logits_in, values_in]))
    layer.kernel.assign(np.eye(inputs[0].shape[1], dtype=np.float32))  # logits unchanged
    if init is not None:
        init(layer)
    model.compile(
        make_optimizer(optimizer, learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        inputs,
        labels,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation,
        verbose=verbose,
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}
