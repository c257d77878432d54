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

import numpy as np

DIRECTIONS = ("symmetric", "directed", "transposed")
NORMALIZATIONS = ("symmetric", "row")
_GRAPH_NORMALIZE = ("rate", "count")


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}.")


def check_labels(y: np.ndarray, n_classes: int, what: str = "y_val") -> np.ndarray:
    """Integer labels in ``[0, n_classes)`` as a 1-D int array (one-hot rows are accepted)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == n_classes and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1:
        raise ValueError(
            f"{what} must be a 1-D array of integer class labels, got shape {y.shape}; pass "
            "labels such as [3, 0, 7, ...] (or one-hot rows)."
        )
    if y.size and (not np.all(np.mod(y, 1) == 0) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{what} holds labels outside 0..{n_classes - 1} (found {y.min()}..{y.max()}); the "
            f"model has {n_classes} classes: relabel the data as 0..{n_classes - 1} or use a "
            "model with one output per class."
        )
    return y.astype(np.int64)


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
            f"{probabilities.shape}; pass the model's softmax output."
        )
    n_classes = probabilities.shape[1]
    y_true = check_labels(y_true, n_classes)
    if len(y_true) != len(probabilities):
        raise ValueError(
            f"{len(y_true)} labels for {len(probabilities)} predictions; pass one label per "
            "validation sample."
        )
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("the predictions hold NaN or inf; check the model's training first.")
    votes = probabilities if soft else np.eye(n_classes)[probabilities.argmax(axis=1)]
    graph = np.zeros((n_classes, n_classes))
    np.add.at(graph, y_true, votes)
    np.fill_diagonal(graph, 0.0)
    if normalize == "rate":
        per_class = np.bincount(y_true, minlength=n_classes).astype(np.float64)
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

    ``model`` must end with ``Dense(K)`` (optionally followed by a softmax); logits are turned
    into probabilities. Returns a float64 (K, K) array, see :func:`graph_from_predictions`.
    """
    import keras

    from automl_kit.utils.models import classification_head, outputs_probabilities

    _check_choice(normalize, _GRAPH_NORMALIZE, "graph normalisation")
    n_classes = classification_head(model).units  # ValueError for a model without Dense(K)
    y_val = check_labels(y_val, n_classes)
    if len(y_val) != len(x_val):
        raise ValueError(
            f"x_val has {len(x_val)} samples but y_val {len(y_val)} labels; pass matching arrays."
        )
    outputs = model.predict(x_val, batch_size=batch_size, verbose=0)
    if not outputs_probabilities(model):
        outputs = keras.ops.convert_to_numpy(keras.ops.softmax(outputs, axis=-1))
    return graph_from_predictions(y_val, outputs, soft=soft, normalize=normalize)


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

    ``direction`` picks which classes node ``i`` aggregates from (row ``i``, see the module
    docstring). ``normalization`` (default: ``"symmetric"`` for the symmetric direction, else
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
