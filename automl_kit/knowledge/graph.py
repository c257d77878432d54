"""The misclassification graph of a trained classifier and the adjacency a GCN layer gets (Xiao, Part 4.4.1).

Edge ``i -> j`` of the graph is how often validation samples of true class ``i`` are predicted as
class ``j`` (Figure 4.6): hard counts of ``argmax`` predictions, or *soft counts* (the summed
predicted probability of ``j``), which give a dense graph even when a small validation set makes
few hard mistakes. The diagonal (correct predictions) is zero: ``graph_filter`` adds self-loops.

Direction, the choice that matters: Spektral's ``GCNConv`` computes ``A @ X @ W``, so node ``i``
aggregates from the nodes ``j`` with ``A[i, j] > 0`` (row ``i``). With ``A = G``
(``direction="directed"``) class ``i`` draws on the classes it is mistaken *for*; with
``A = G.T`` (``"transposed"``) on the classes mistaken *as* ``i``; ``"symmetric"`` uses
``(G + G.T) / 2``, the undirected similarity of Arino et al. that the thesis cites.

>>> import numpy as np
>>> y_true = np.array([0, 0, 1, 1, 2, 2])
>>> probabilities = np.eye(3)[[0, 1, 1, 1, 2, 0]]   # one 0 -> 1 and one 2 -> 0 mistake
>>> graph_from_predictions(y_true, probabilities, normalize="count")
array([[0., 1., 0.],
       [0., 0., 0.],
       [1., 0., 0.]])
>>> graph_filter(np.array([[0.0, 1.0], [0.0, 0.0]]), direction="directed")
array([[0.5, 0.5],
       [0. , 1. ]])
"""

from __future__ import annotations

import warnings

import numpy as np

from automl_kit.utils.validation import check_labels

DIRECTIONS = ("symmetric", "directed", "transposed")
NORMALIZATIONS = ("symmetric", "row")
_GRAPH_NORMALIZE = ("rate", "count")


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}.")


def _activation(layer) -> str:
    import keras

    activation = getattr(layer, "activation", None)
    if activation is None:
        return "softmax" if isinstance(layer, keras.layers.Softmax) else "linear"
    name = keras.activations.serialize(activation)
    return name if isinstance(name, str) else str(getattr(activation, "__name__", name))


def check_classifier(model) -> tuple[int, bool]:
    """``(K, outputs are probabilities)`` of a single-label classifier; refuses K < 2.

    Accepts a model ending in ``Dense(K)`` (softmax or logits, optionally followed by a
    ``Softmax``/``Activation`` layer) and any model whose last layer is a softmax over ``K``
    outputs, such as a PK-GCN model from :func:`add_class_similarity_head`. A sigmoid head is
    accepted with a warning (its outputs are not a distribution over the classes).
    """
    import keras

    from automl_kit._compat import producing_layer
    from automl_kit.utils.models import classification_head

    if not isinstance(model, keras.Model):
        raise ValueError(
            f"model must be a Keras model (functional or Sequential, built on keras.Input), got "
            f"{type(model).__name__}; wrap a prediction function in a keras.Model, or call "
            "graph_from_predictions(y_val, probabilities) with its outputs."
        )
    try:
        head = classification_head(model)
    except ValueError as exc:
        outputs = getattr(model, "outputs", None) or []
        last = producing_layer(outputs[0]) if len(outputs) == 1 else None
        shape = tuple(outputs[0].shape) if len(outputs) == 1 else ()
        if last is not None and _activation(last) == "softmax" and len(shape) == 2:
            return _check_class_count(int(shape[-1])), True  # e.g. a PK-GCN model
        raise ValueError(
            f"{exc} A model ending in a softmax over the classes also works."
        ) from None
    n_classes = _check_class_count(head.units)
    output_shape = tuple(model.outputs[0].shape)
    if len(output_shape) != 2:
        raise ValueError(
            f"model {model.name!r} outputs shape {output_shape}, not (batch, {n_classes}): its "
            "Dense head acts on a feature map; add keras.layers.Flatten() or "
            "GlobalAveragePooling2D() before the head."
        )
    tail, layer = [], producing_layer(model.outputs[0])
    while layer is not None and layer is not head:
        tail.append(layer)
        layer = producing_layer(layer.input)
    activations = [_activation(layer) for layer in (head, *tail)]
    if "sigmoid" in activations:
        warnings.warn(
            f"model {model.name!r} ends in a sigmoid: its {n_classes} outputs are independent "
            "scores, not a distribution over the classes, so soft counts sum unnormalised values "
            "and PK-GCN's new head uses a softmax instead; for a single-label classifier use "
            f"Dense({n_classes}, activation='softmax') or logits.",
            stacklevel=3,
        )
    return n_classes, any(a in ("softmax", "sigmoid") for a in activations)


def _check_class_count(n_classes: int) -> int:
    if n_classes < 2:
        raise ValueError(
            f"the model has {n_classes} output: PK-GCN needs a Dense(K>=2) softmax/logits "
            "classifier over K classes; a Dense(1) output is regression or binary (for two "
            "classes use Dense(2, activation='softmax'))."
        )
    return n_classes


def check_inputs(x: np.ndarray, what: str = "x_val") -> None:
    """Refuse an empty input or one holding NaN/inf (naming the first bad sample)."""
    parts = x if isinstance(x, (list, tuple)) else [x]
    for part in parts:
        part = np.asarray(part)
        if len(part) == 0:
            raise ValueError(
                f"{what} is empty; pass at least one sample per class (the graph counts the "
                "validation mistakes)."
            )
        if part.dtype.kind in "fc":
            finite = np.isfinite(part.reshape(len(part), -1)).all(axis=1)
            if not finite.all():
                bad = np.flatnonzero(~finite)
                raise ValueError(
                    f"{what} sample {bad[0]} holds NaN or inf ({len(bad)} such samples); clean "
                    f"or drop them, e.g. x = x[np.isfinite(x).reshape(len(x), -1).all(axis=1)]."
                )


def graph_from_predictions(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    *,
    soft: bool = False,
    normalize: str = "rate",
) -> np.ndarray:
    """The (K, K) misclassification graph from labels and predicted probabilities (N, K).

    ``[i, j]`` = number of samples of class ``i`` predicted as ``j`` (``soft``: summed probability
    of ``j``); ``normalize="rate"`` divides row ``i`` by the number of samples of class ``i``. The
    diagonal is zero.
    """
    _check_choice(normalize, _GRAPH_NORMALIZE, "graph normalisation")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(
            f"probabilities must have shape (samples, classes) with at least 2 classes, got "
            f"{probabilities.shape}; pass predicted class probabilities, one row per sample."
        )
    n_classes = probabilities.shape[1]
    y_true = check_labels(y_true, num_classes=n_classes, name="y_true")
    if len(y_true) != len(probabilities):
        raise ValueError(
            f"{len(y_true)} labels for {len(probabilities)} predictions; pass one label per sample."
        )
    if len(y_true) == 0:
        raise ValueError("y_true is empty; pass at least one labelled sample per class.")
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("the predictions hold NaN or inf; check the model's training first.")
    if not isinstance(soft, (bool, np.bool_)):
        raise ValueError(f"soft must be True or False, got {soft!r}.")
    per_class = np.bincount(y_true, minlength=n_classes).astype(np.float64)
    if np.any(per_class == 0):
        missing = np.flatnonzero(per_class == 0).tolist()
        warnings.warn(
            f"class(es) {missing} have no validation samples: their rows of the graph stay zero "
            "(no evidence about their mistakes); use a larger or class-balanced validation set.",
            stacklevel=2,
        )
    votes = probabilities if soft else np.eye(n_classes)[probabilities.argmax(axis=1)]
    graph = np.zeros((n_classes, n_classes))
    np.add.at(graph, y_true, votes)
    np.fill_diagonal(graph, 0.0)
    if normalize == "rate":
        # a class absent from the validation set has no evidence: its row stays zero
        graph = np.divide(graph, per_class[:, None], out=graph, where=per_class[:, None] > 0)
    return graph


def misclassification_graph(
    model,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    soft: bool = False,
    normalize: str = "rate",
    batch_size: int = 256,
) -> np.ndarray:
    """The directed, weighted misclassification graph of ``model`` on the validation set (Part 4.4.1).

    ``model`` ends with ``Dense(K >= 2)`` (softmax or logits) or with a softmax over ``K``
    classes (a PK-GCN model works too); logits are turned into probabilities. ``y_val`` holds
    integer labels 0..K-1. Returns a float64 (K, K) array, see :func:`graph_from_predictions`.
    """
    import keras

    _check_choice(normalize, _GRAPH_NORMALIZE, "graph normalisation")
    n_classes, probabilities = check_classifier(model)
    y_val = check_labels(y_val, num_classes=n_classes, name="y_val")
    check_inputs(x_val)
    n_samples = len(x_val[0]) if isinstance(x_val, (list, tuple)) else len(x_val)
    if len(y_val) != n_samples:
        raise ValueError(
            f"x_val has {n_samples} samples but y_val {len(y_val)} labels; pass matching arrays."
        )
    outputs = model.predict(x_val, batch_size=batch_size, verbose=0)
    if not probabilities:
        outputs = keras.ops.convert_to_numpy(keras.ops.softmax(outputs, axis=-1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re-raised below with the caller's names
        graph = graph_from_predictions(y_val, outputs, soft=soft, normalize=normalize)
    missing = np.flatnonzero(np.bincount(y_val, minlength=n_classes) == 0).tolist()
    if missing:
        warnings.warn(
            f"class(es) {missing} have no samples in y_val: their rows of the graph stay zero "
            "(no evidence about their mistakes); use a larger or class-balanced validation set.",
            stacklevel=2,
        )
    return graph


def check_graph(graph: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """A finite, non-negative square float64 array; of size ``n_classes`` when given."""
    graph = np.asarray(graph, dtype=np.float64)
    if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
        raise ValueError(
            f"the class graph must be a square (K, K) array, got shape {graph.shape}; build it "
            "with misclassification_graph(model, x_val, y_val)."
        )
    if n_classes is not None and graph.shape[0] != n_classes:
        raise ValueError(
            f"the class graph has {graph.shape[0]} nodes but the model has {n_classes} classes; "
            "build the graph from this model's predictions (one node per class)."
        )
    if not np.all(np.isfinite(graph)) or np.any(graph < 0):
        raise ValueError(
            "the class graph holds negative, NaN or inf weights; edge weights are confusion "
            "counts or rates (>= 0)."
        )
    return graph


def graph_filter(
    graph: np.ndarray, direction: str = "symmetric", *, normalization: str | None = None
) -> np.ndarray:
    """The adjacency handed to ``GCNConv``: oriented graph + self-loops, normalised (Eq. 4.1).

    ``direction`` picks which classes node ``i`` aggregates from (``GCNConv`` computes
    ``A @ X @ W``, so node ``i`` draws on the nodes ``j`` with ``A[i, j] > 0``): ``"directed"``
    (``A = G``: the classes ``i`` is mistaken for), ``"transposed"`` (``A = G.T``: the classes
    mistaken as ``i``) or ``"symmetric"`` (``(G + G.T) / 2``). ``normalization`` (default: ``"symmetric"`` for the symmetric direction, else
    ``"row"``) is Spektral's ``gcn_filter``: self-loops added, then ``D^-1/2 A D^-1/2`` or
    ``D^-1 A`` with ``D`` the row sums. Row normalisation keeps each node's output a weighted
    mean of its own and its neighbours' features, whatever the direction.
    """
    from spektral.utils import gcn_filter

    _check_choice(direction, DIRECTIONS, "graph direction")
    normalization = normalization or ("symmetric" if direction == "symmetric" else "row")
    _check_choice(normalization, NORMALIZATIONS, "graph normalization")
    graph = check_graph(graph)
    oriented = {
        "symmetric": (graph + graph.T) / 2.0,
        "directed": graph,
        "transposed": graph.T,
    }[direction]
    return np.asarray(gcn_filter(oriented.copy(), symmetric=normalization == "symmetric"))


def count_edges(graph: np.ndarray, threshold: float = 0.0) -> int:
    """Directed edges with weight above ``threshold`` (the diagonal is never an edge)."""
    graph = np.asarray(graph, dtype=np.float64)
    off_diagonal = ~np.eye(len(graph), dtype=bool)
    return int(np.sum((graph > threshold) & off_diagonal))
