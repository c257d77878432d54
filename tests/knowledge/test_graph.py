"""The misclassification graph from known predictions; the GCN adjacency; embeddings."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from automl_kit.knowledge import (
    class_biases,
    class_embeddings,
    count_edges,
    data_embeddings,
    graph_filter,
    graph_from_predictions,
    misclassification_graph,
)
from automl_kit.utils.models import logits_model
from tests.knowledge.conftest import N_CLASSES, tiny_classifier

Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
# class 0: two predicted as 1, one as 2; class 1: one predicted as 0; class 2: all right
PREDICTED = np.array([0, 1, 1, 2, 1, 0, 2, 2])


def _probabilities(predicted, n=3, confidence=0.7):
    rest = (1 - confidence) / (n - 1)
    p = np.full((len(predicted), n), rest)
    p[np.arange(len(predicted)), predicted] = confidence
    return p


def test_hard_counts_point_from_true_to_predicted_class():
    graph = graph_from_predictions(Y_TRUE, _probabilities(PREDICTED), normalize="count")
    expected = np.array([[0, 2, 1], [1, 0, 0], [0, 0, 0]], float)
    np.testing.assert_array_equal(graph, expected)
    assert count_edges(graph) == 3


def test_rates_divide_each_row_by_its_class_size():
    graph = graph_from_predictions(Y_TRUE, _probabilities(PREDICTED))
    np.testing.assert_allclose(graph, [[0, 0.5, 0.25], [0.5, 0, 0], [0, 0, 0]])


def test_soft_counts_sum_predicted_probabilities_off_the_diagonal():
    p = _probabilities(PREDICTED)
    graph = graph_from_predictions(Y_TRUE, p, soft=True, normalize="count")
    expected = np.zeros((3, 3))
    for label, row in zip(Y_TRUE, p):
        expected[label] += row
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(graph, expected)
    # soft counts see every confusion, hard counts only the argmax mistakes
    assert count_edges(graph) == 6 > count_edges(graph_from_predictions(Y_TRUE, p))


def test_misclassification_graph_of_a_model_matches_its_predictions(classifier, xy):
    x, y = xy
    predicted = classifier.predict(x, verbose=0)
    np.testing.assert_allclose(
        misclassification_graph(classifier, x, y, normalize="count"),
        graph_from_predictions(y, predicted, normalize="count"),
    )
    soft = misclassification_graph(classifier, x, y, soft=True)
    assert soft.shape == (N_CLASSES, N_CLASSES) and np.all(np.diag(soft) == 0)
    # a logits model gives the same graph (softmax applied before counting)
    logits = tiny_classifier(activation="linear")
    logits.set_weights(classifier.get_weights())
    np.testing.assert_allclose(misclassification_graph(logits, x, y, soft=True), soft, atol=1e-6)


def test_graph_filter_direction_decides_which_row_a_node_reads():
    graph = np.array([[0.0, 1.0], [0.0, 0.0]])  # class 0 is mistaken for class 1
    directed = graph_filter(graph, "directed")
    transposed = graph_filter(graph, "transposed")
    np.testing.assert_allclose(directed, [[0.5, 0.5], [0.0, 1.0]])  # node 0 reads node 1
    np.testing.assert_allclose(transposed, [[1.0, 0.0], [0.5, 0.5]])  # node 1 reads node 0
    symmetric = graph_filter(graph, "symmetric")
    np.testing.assert_allclose(symmetric, symmetric.T)
    a = graph + np.eye(2)
    a = (a + a.T) / 2
    d = np.diag(a.sum(axis=1) ** -0.5)
    np.testing.assert_allclose(symmetric, d @ a @ d)
    # row normalisation: every row of a directed filter sums to one
    np.testing.assert_allclose(
        graph_filter(np.random.default_rng(0).random((5, 5)), "directed").sum(1), 1
    )


def test_embeddings_reproduce_the_base_logits(classifier, xy):
    x, _ = xy
    d = data_embeddings(classifier, x)
    c = class_embeddings(classifier)
    assert d.shape == (len(x), 5) and c.shape == (N_CLASSES, 5)
    logits = logits_model(classifier).predict(x, verbose=0)
    np.testing.assert_allclose(d @ c.T + class_biases(classifier), logits, rtol=1e-5, atol=1e-5)


def test_graph_rejects_labels_out_of_range_and_headless_models(classifier, xy):
    x, y = xy
    with pytest.raises(ValueError, match="outside 0..3"):
        misclassification_graph(classifier, x, y + 1)
    inputs = keras.Input((6,))
    headless = keras.Model(inputs, keras.layers.ReLU()(inputs))
    with pytest.raises(ValueError, match="no Dense classification head"):
        misclassification_graph(headless, x, y)
    with pytest.raises(ValueError, match="no Dense classification head"):
        class_embeddings(headless)
    with pytest.raises(ValueError, match="unknown graph direction"):
        graph_filter(np.zeros((2, 2)), "up")
    with pytest.raises(ValueError, match="negative"):
        graph_filter(-np.ones((2, 2)))


def test_a_second_classifier_gives_a_different_graph_so_the_check_can_fail(xy):
    x, y = xy
    first = misclassification_graph(tiny_classifier(0), x, y, soft=True)
    second = misclassification_graph(tiny_classifier(1), x, y, soft=True)
    assert not np.allclose(first, second)


# ---- new-user trial (issue 13): refusals and warnings that name the fix -----------------------
def test_string_labels_are_refused_with_the_mapping_idiom(classifier, xy):
    x, y = xy
    with pytest.raises(
        ValueError, match=r"labels must be integers 0..K-1: map them with .*np.unique"
    ):
        misclassification_graph(classifier, x, np.array(["a", "b", "c", "d"])[y])


def test_single_output_models_are_refused():
    import keras

    inputs = keras.Input((6,))
    for activation in (None, "sigmoid"):
        one = keras.Model(inputs, keras.layers.Dense(1, activation=activation)(inputs))
        with pytest.raises(ValueError, match=r"Dense\(K>=2\).*regression or binary"):
            misclassification_graph(one, np.zeros((4, 6)), np.zeros(4, int))


def test_empty_and_nan_validation_inputs_are_refused(classifier, xy):
    x, y = xy
    with pytest.raises(ValueError, match="y_val is empty"):
        misclassification_graph(classifier, x[:0], y[:0])
    bad = x.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="x_val sample 5 holds NaN"):
        misclassification_graph(classifier, bad, y)


def test_a_class_missing_from_validation_is_named_in_a_warning(classifier, xy):
    x, y = xy
    keep = y != 2
    with pytest.warns(UserWarning, match=r"class\(es\) \[2\] have no samples in y_val"):
        graph = misclassification_graph(classifier, x[keep], y[keep])
    assert not graph[2].any()


def test_sigmoid_heads_warn_and_pkgcn_models_are_accepted(xy):
    from automl_kit.knowledge import add_class_similarity_head
    from tests.knowledge.conftest import tiny_classifier

    x, y = xy
    with pytest.warns(UserWarning, match="ends in a sigmoid"):
        misclassification_graph(tiny_classifier(1, "sigmoid"), x, y, soft=True)
    pkgcn = add_class_similarity_head(tiny_classifier(1), np.zeros((4, 4)))
    graph = misclassification_graph(pkgcn, x, y)
    probabilities = pkgcn.predict(x, verbose=0)
    np.testing.assert_allclose(graph, graph_from_predictions(y, probabilities))
    with pytest.raises(ValueError, match="must be a Keras model"):
        misclassification_graph(lambda batch: batch, x, y)
    with pytest.raises(ValueError, match="soft must be True or False"):
        graph_from_predictions(y, probabilities, soft="yes")
    with pytest.raises(ValueError, match=r"y_true has labels in 4..7, outside 0..3"):
        graph_from_predictions(y + 4, probabilities)
    inputs = keras.Input((3, 3, 2))
    per_pixel = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    with pytest.raises(ValueError, match="acts on a feature map; add keras.layers.Flatten"):
        misclassification_graph(per_pixel, np.zeros((4, 3, 3, 2)), np.arange(4))


def test_the_graph_picture_can_leave_out_light_edges(tmp_path):
    from automl_kit.knowledge import plot_class_graph
    from automl_kit.knowledge.plots import drawn_edges

    soft = np.full((3, 3), 0.004) + np.diag([0.9] * 3)
    soft[0, 1] = 0.2
    assert count_edges(drawn_edges(soft)) == 6 and count_edges(drawn_edges(soft, 0.01)) == 1
    assert plot_class_graph(soft, tmp_path / "g.png", threshold=0.01).stat().st_size > 0
    with pytest.raises(ValueError, match="threshold must be a weight >= 0"):
        plot_class_graph(soft, tmp_path / "h.png", threshold=-1)
