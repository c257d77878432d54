"""PK-GCN: a graph convolution over the classes as a classifier's new head (Xiao, Part 4.4.2).

Node ``i`` of the class graph carries ``x_i = concat(d, c_i)`` (data embedding ``d``, class
embedding ``c_i``, ``2n`` values); one ``GCNConv`` over the class graph, with one adjacency
shared by the whole batch, gives ``h_i`` (``2n`` values). The class score is

* PK-GCN-1 (Eq. 4.4): ``s_i = sum_k d_k h_i[n+k] + sum_k c_ik h_i[k]``;
* PK-GCN-2 (Eq. 4.5): ``q_i = Dense(2l)(concat(x_i, h_i))``, ``s_i = sum_{k<l} q_ik q_i(k+l)``;

and a softmax over ``s`` gives the prediction. The class embeddings start from the trained
head's kernel and keep training in stage 2.

``initializer="warm"`` (not in the thesis) starts the GCN (and PK-GCN-2's Dense) so that, on a
graph without edges, ``s_i = d . c_i``: stage 2 then begins at the stage-1 solution instead of
a random head. The thesis's choice, random (Glorot) weights, is the default.

>>> import keras, numpy as np
>>> inputs = keras.Input((4,))
>>> hidden = keras.layers.Dense(3, activation="relu")(inputs)
>>> base = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
>>> model = add_class_similarity_head(base, np.array([[0.0, 0.3], [0.1, 0.0]]), variant=2, units_l=4)
>>> model.output_shape
(None, 2)
"""

from __future__ import annotations

import keras
import numpy as np

from automl_kit._compat import GCNConv
from automl_kit.knowledge.graph import check_graph, graph_filter

INITIALIZERS = ("glorot_uniform", "warm")


@keras.saving.register_keras_serializable(package="automl_kit")
class ClassGraphHead(keras.layers.Layer):
    """Data embedding ``d`` (N, n) -> class scores ``s`` (N, K) before the softmax (Eq. 4.4 / 4.5).

    ``adjacency`` is the (K, K) matrix ``GCNConv`` multiplies by (self-loops and normalisation
    included, see :func:`automl_kit.knowledge.graph_filter`): node ``i`` aggregates from row ``i``.
    """

    def __init__(
        self,
        adjacency,
        *,
        variant: int = 1,
        units_l: int | None = None,
        gcn_activation: str | None = None,
        initializer: str = "glorot_uniform",
        use_bias: bool = False,
        train_class_embeddings: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        adjacency = check_graph(adjacency)
        if variant not in (1, 2):
            raise ValueError(
                f"variant must be 1 (PK-GCN-1, Eq. 4.4) or 2 (PK-GCN-2, Eq. 4.5), got {variant!r}."
            )
        if units_l is not None and (not isinstance(units_l, int) or units_l < 1):
            raise ValueError(
                f"units_l must be a positive integer (or None for n), got {units_l!r}."
            )
        if variant == 1 and units_l is not None:
            raise ValueError(
                "units_l sets the width of PK-GCN-2's Dense layer (Eq. 4.5); PK-GCN-1 has none: "
                "drop units_l or pass variant=2."
            )
        if initializer not in INITIALIZERS:
            raise ValueError(
                f"unknown initializer {initializer!r}; choose one of: {', '.join(INITIALIZERS)}."
            )
        self.adjacency = adjacency
        self.n_classes = len(adjacency)
        self.variant = variant
        self.units_l = units_l
        self.gcn_activation = gcn_activation
        self.initializer = initializer
        self.use_bias = use_bias
        self.train_class_embeddings = train_class_embeddings
        self.gcn = None
        self.dense = None

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.n_features = n
        self.class_embeddings = self.add_weight(
            name="class_embeddings",
            shape=(self.n_classes, n),
            initializer="glorot_uniform",
            trainable=self.train_class_embeddings,
        )
        warm = self.initializer == "warm"
        self.gcn = GCNConv(
            2 * n,
            activation=self.gcn_activation,
            kernel_initializer=_warm_gcn_kernel if warm else "glorot_uniform",
            name="gcn",
        )
        self.gcn.build([(None, self.n_classes, 2 * n), (self.n_classes, self.n_classes)])
        if self.variant == 2:
            l_units = self.units_l or n
            if warm and l_units != n:
                raise ValueError(
                    f"initializer='warm' for PK-GCN-2 needs units_l == n ({n}), got {l_units}; "
                    "pass units_l=None or initializer='glorot_uniform'."
                )
            self.dense = keras.layers.Dense(
                2 * l_units,
                kernel_initializer=_warm_dense_kernel if warm else "glorot_uniform",
                name="q",
            )
            self.dense.build((None, self.n_classes, 4 * n))
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.n_classes,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        ops = keras.ops
        d = inputs
        n, k = self.n_features, self.n_classes
        c = ops.cast(self.class_embeddings, d.dtype)
        batch = ops.shape(d)[0]
        d_nodes = ops.broadcast_to(ops.expand_dims(d, 1), (batch, k, n))
        c_nodes = ops.broadcast_to(ops.expand_dims(c, 0), (batch, k, n))
        x = ops.concatenate([d_nodes, c_nodes], axis=-1)  # node i: concat(d, c_i)
        a = ops.convert_to_tensor(self.adjacency, dtype=d.dtype)
        h = self.gcn([x, a])  # one adjacency for the whole batch (Spektral's mixed mode)
        if self.variant == 1:
            scores = ops.sum(d_nodes * h[..., n:], axis=-1) + ops.sum(c_nodes * h[..., :n], axis=-1)
        else:
            q = self.dense(ops.concatenate([x, h], axis=-1))
            half = q.shape[-1] // 2
            scores = ops.sum(q[..., :half] * q[..., half:], axis=-1)
        if self.use_bias:
            scores = scores + ops.cast(self.bias, scores.dtype)
        return scores

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_classes)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            adjacency=np.asarray(self.adjacency).tolist(),
            variant=self.variant,
            units_l=self.units_l,
            gcn_activation=self.gcn_activation,
            initializer=self.initializer,
            use_bias=self.use_bias,
            train_class_embeddings=self.train_class_embeddings,
        )
        return config


def _warm_gcn_kernel(shape, dtype=None):
    """``h = x W`` with ``h[:n] = d / 2`` and ``h[n:] = c / 2``: Eq. 4.4 then gives ``d . c_i``."""
    n = shape[0] // 2
    return keras.ops.cast(0.5 * np.eye(2 * n), dtype or "float32")


def _warm_dense_kernel(shape, dtype=None):
    """``q = [d, c_i]`` from ``concat(x_i, h_i)``: Eq. 4.5 then gives ``d . c_i``."""
    rows, cols = shape
    kernel = np.zeros((rows, cols))
    kernel[:cols, :] = np.eye(cols)
    return keras.ops.cast(kernel, dtype or "float32")


def add_class_similarity_head(
    model: keras.Model,
    graph: np.ndarray,
    *,
    variant: int = 1,
    direction: str = "symmetric",
    normalization: str | None = None,
    trainable_base: bool = True,
    copy: bool = True,
    **head_kwargs,
) -> keras.Model:
    """``model`` with its ``Dense(K)`` head replaced by PK-GCN (stage 2 of Xiao, Part 4.4.2).

    ``graph`` is the (K, K) misclassification graph; ``direction``/``normalization`` go to
    :func:`~automl_kit.knowledge.graph_filter`; ``head_kwargs`` to :class:`ClassGraphHead`
    (``units_l``, ``gcn_activation``, ``initializer``, ``use_bias``). The class embeddings (and
    the bias, with ``use_bias=True``) start from the old head. The new model outputs softmax
    probabilities and is returned uncompiled.

    ``copy=True`` (default): the body is a clone of ``model``'s with its trained weights, so
    training the new model (or ``trainable_base=False``) leaves ``model`` untouched.
    ``copy=False`` shares the body's layers with ``model``: training either changes both, and
    ``trainable_base=False`` freezes them in both (cheaper when ``model`` is a throwaway copy).
    """
    from automl_kit.knowledge.graph import _check_class_count, check_classifier
    from automl_kit.utils.models import classification_head, replace_head

    old_head = classification_head(model)  # ValueError names the fix for a model without one
    _check_class_count(old_head.units)
    check_classifier(model)  # warns about a sigmoid head
    if not isinstance(copy, bool):
        raise ValueError(f"copy must be True or False, got {copy!r}.")
    if copy:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        model, old_head = clone, classification_head(clone)
    graph = check_graph(graph, old_head.units)
    head = ClassGraphHead(
        graph_filter(graph, direction, normalization=normalization),
        variant=variant,
        name="class_graph_head",
        **head_kwargs,
    )
    new = replace_head(
        model, lambda features: keras.layers.Softmax(name="class_graph_softmax")(head(features))
    )
    head.class_embeddings.assign(keras.ops.transpose(old_head.kernel))
    if head.use_bias and old_head.use_bias:
        head.bias.assign(old_head.bias)
    if not trainable_base:
        for layer in new.layers:
            if layer is not head:
                layer.trainable = False
    return new
