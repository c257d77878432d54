"""PK-GCN heads: Eq. 4.4 and 4.5 against NumPy, training, saving, warm start, bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from automl_kit.knowledge import (
    ClassGraphHead,
    add_class_similarity_head,
    class_embeddings,
    data_embeddings,
    graph_filter,
)
from automl_kit.utils.models import logits_model
from tests.knowledge.conftest import N_CLASSES, N_FEATURES

GRAPH = np.array([[0, 0.3, 0, 0.1], [0.05, 0, 0.2, 0], [0, 0, 0, 0.4], [0.1, 0, 0, 0]], dtype=float)


def _numpy_scores(head: ClassGraphHead, d: np.ndarray) -> np.ndarray:
    """Eq. 4.4 / 4.5 written out: nodes x_i = [d, c_i], h = A x W + b."""
    c = np.asarray(head.class_embeddings)
    a = np.asarray(head.adjacency)
    n, k = d.shape[1], len(c)
    x = np.concatenate([np.repeat(d[:, None], k, 1), np.repeat(c[None], len(d), 0)], axis=-1)
    h = np.einsum("ij,bjf->bif", a, x @ np.asarray(head.gcn.kernel)) + np.asarray(head.gcn.bias)
    if head.variant == 1:
        return np.einsum("bk,bik->bi", d, h[..., n:]) + np.einsum("ik,bik->bi", c, h[..., :n])
    q = np.concatenate([x, h], -1) @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias)
    half = q.shape[-1] // 2
    return (q[..., :half] * q[..., half:]).sum(-1)


@pytest.mark.parametrize("variant, units_l", [(1, None), (2, 3)])
def test_scores_follow_eq_4_4_and_4_5(classifier, xy, variant, units_l):
    x, _ = xy
    model = add_class_similarity_head(
        classifier, GRAPH, variant=variant, direction="directed", units_l=units_l
    )
    head = model.get_layer("class_graph_head")
    np.testing.assert_allclose(head.adjacency, graph_filter(GRAPH, "directed"))
    # the class embeddings start from the old head's kernel
    np.testing.assert_allclose(head.class_embeddings, class_embeddings(classifier), atol=1e-7)
    d = data_embeddings(classifier, x)
    scores = keras.ops.convert_to_numpy(head(d))
    np.testing.assert_allclose(scores, _numpy_scores(head, d), rtol=1e-4, atol=1e-5)
    # the softmax over s is the model's output
    expected = np.exp(scores - scores.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6)


def test_warm_start_without_edges_gives_the_base_logits_before_bias(classifier, xy):
    x, _ = xy
    d = data_embeddings(classifier, x)
    logits = logits_model(classifier).predict(x, verbose=0)
    bias = np.asarray(classifier.get_layer("classifier").bias)
    for variant in (1, 2):
        model = add_class_similarity_head(
            classifier, np.zeros((N_CLASSES, N_CLASSES)), variant=variant, initializer="warm"
        )
        scores = keras.ops.convert_to_numpy(model.get_layer("class_graph_head")(d))
        np.testing.assert_allclose(scores, logits - bias, rtol=1e-4, atol=1e-5)


def test_the_graph_changes_the_scores(classifier, xy):
    x, _ = xy
    keras.utils.set_random_seed(3)
    with_edges = add_class_similarity_head(classifier, GRAPH, initializer="warm")
    without = add_class_similarity_head(classifier, np.zeros_like(GRAPH), initializer="warm")
    assert not np.allclose(with_edges.predict(x, verbose=0), without.predict(x, verbose=0))


@pytest.mark.parametrize("variant, initializer", [(1, "glorot_uniform"), (2, "warm")])
def test_head_trains_and_the_model_saves_and_reloads(
    classifier, xy, tmp_path, variant, initializer
):
    x, y = xy
    keras.utils.set_random_seed(0)
    model = add_class_similarity_head(
        classifier, GRAPH, variant=variant, direction="transposed", initializer=initializer
    )
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    head = model.get_layer("class_graph_head")
    before = [np.array(w) for w in head.get_weights()]
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.allclose(b, a) for b, a in zip(before, head.get_weights()))
    path = tmp_path / "pkgcn.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    assert reloaded.get_layer("class_graph_head").get_config() == head.get_config()


def test_frozen_base_trains_only_the_head(xy):  # a shared body: copy=False
    from tests.knowledge.conftest import tiny_classifier

    x, y = xy
    base = tiny_classifier(2)
    model = add_class_similarity_head(base, GRAPH, trainable_base=False, copy=False)
    hidden = keras.ops.convert_to_numpy(base.get_layer("hidden").kernel)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(hidden, base.get_layer("hidden").kernel)


def test_clear_errors_for_wrong_graphs_and_headless_models(classifier):
    with pytest.raises(ValueError, match="3 nodes but the model has 4 classes"):
        add_class_similarity_head(classifier, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="square"):
        add_class_similarity_head(classifier, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="variant must be 1"):
        add_class_similarity_head(classifier, GRAPH, variant=3)
    inputs = keras.Input((6,))
    no_head = keras.Model(
        inputs,
        keras.layers.Softmax()(keras.layers.Conv1D(4, 1)(keras.layers.Reshape((6, 1))(inputs))),
    )
    with pytest.raises(ValueError, match="no Dense classification head"):
        add_class_similarity_head(no_head, GRAPH)
    with pytest.raises(ValueError, match="PK-GCN-1 has none"):
        add_class_similarity_head(classifier, GRAPH, variant=1, units_l=3)
    with pytest.raises(ValueError, match="units_l == n"):
        add_class_similarity_head(
            classifier, GRAPH, variant=2, units_l=N_FEATURES + 1, initializer="warm"
        )


def test_the_users_model_is_left_untouched_unless_sharing_is_asked_for(xy):
    from tests.knowledge.conftest import tiny_classifier

    x, y = xy
    base = tiny_classifier(4)
    before = [w.copy() for w in base.get_weights()]
    model = add_class_similarity_head(base, GRAPH, trainable_base=False)  # copy=True: a clone
    assert all(layer.trainable for layer in base.layers)
    # the clone is a new layer that starts from the trained weights
    clone, original = model.get_layer("hidden"), base.get_layer("hidden")
    assert clone is not original and not clone.trainable
    for new, old in zip(clone.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(new, old)
    model = add_class_similarity_head(base, GRAPH)
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    for old, new in zip(before, base.get_weights()):
        np.testing.assert_array_equal(old, new)
    shared = add_class_similarity_head(base, GRAPH, copy=False)
    assert shared.get_layer("hidden") is base.get_layer("hidden")
    with pytest.raises(ValueError, match="copy must be True or False"):
        add_class_similarity_head(base, GRAPH, copy="no")


def test_single_output_models_get_no_one_class_head():
    inputs = keras.Input((6,))
    regression = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match=r"Dense\(K>=2\).*regression or binary"):
        add_class_similarity_head(regression, np.zeros((1, 1)))


def test_a_sigmoid_head_is_replaced_with_a_warning():
    from tests.knowledge.conftest import tiny_classifier

    with pytest.warns(UserWarning, match="PK-GCN's new head uses a softmax"):
        add_class_similarity_head(tiny_classifier(5, "sigmoid"), GRAPH)
