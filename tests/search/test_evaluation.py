import numpy as np
import pytest

from automl_kit.search import CNNSpace
from automl_kit.search._evaluation import (
    EvalTask,
    _parent_weights,
    evaluate,
    set_worker_data,
    transfer_weights,
)
from automl_kit.training import Recipe
from tests.search.conftest import tiny_space


def _task(genes, space, tmp_path, **kw):
    settings = dict(
        key=str(genes),
        genes=genes,
        space_config=space.get_config(),
        epochs=2,
        recipe=Recipe(batch_size=32).get_config(),
        seed=0,
        model_path=str(tmp_path / "m.keras"),
    )
    settings.update(kw)
    return EvalTask(**settings)


@pytest.fixture
def with_digits(digits_small):
    set_worker_data(
        digits_small.x_train, digits_small.y_train, digits_small.x_val, digits_small.y_val
    )
    return digits_small


def test_a_candidate_trains_and_saves(tmp_path, with_digits):
    space = tiny_space()
    genes = space.encode(
        {
            "global": {"activation": "relu"},
            "blocks": [
                {
                    "a_channels": 8,
                    "a_kernel": 3,
                    "a_batch_norm": 0,
                    "b_channels": 8,
                    "b_kernel": 3,
                    "b_batch_norm": 0,
                    "pooling": 1,
                    "pooling_type": "max",
                    "skip": 0,
                }
            ],
        }
    )
    recipe = Recipe(batch_size=32, learning_rate=1e-2).get_config()
    e = evaluate(_task(genes, space, tmp_path, epochs=3, recipe=recipe))
    assert e.status == "ok" and e.epochs == 3 and len(e.val_accuracy) == 3
    # the recipe keeps the best epoch: fitness is its accuracy, and the saved model's
    assert e.fitness == max(e.val_accuracy) > 0.3  # well above chance (0.1)
    assert (tmp_path / "m.keras").is_file()


def test_weight_transfer_copies_inherited_layers_exactly(tmp_path):
    import keras

    space = CNNSpace(channels=(4, 8), kernels=(3,))
    rng = __import__("random").Random(0)
    parent_genes = space.random_genes(1, rng)
    parent = space.build(parent_genes, (8, 8, 1), 10)
    noise = np.random.default_rng(0)
    for layer in parent.layers:  # distinctive weights, unlike any fresh initialisation
        layer.set_weights(
            [noise.normal(5.0, 1.0, w.shape).astype(np.float32) for w in layer.get_weights()]
        )
    parent.save(tmp_path / "parent.keras")
    child = space.build(space.extend(parent_genes, rng), (8, 8, 1), 10)
    copied = transfer_weights(_parent_weights(str(tmp_path / "parent.keras")), child)
    inherited = [l for l in child.layers if l.name.startswith("block0_") and l.weights]
    assert copied == len(inherited) > 0
    for layer in inherited:
        for got, want in zip(layer.get_weights(), parent.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, want)
    # the new block and the classifier start fresh (initialisers give values near 0, not near 5)
    assert abs(child.get_layer("block1_a_conv").get_weights()[0].mean()) < 1
    assert abs(child.get_layer("classifier").get_weights()[0].mean()) < 1
    keras.backend.clear_session()


def test_weight_transfer_finds_the_head_by_structure_not_by_name():
    import keras

    def model():
        inputs = keras.Input((6,))
        x = keras.layers.Dense(5, activation="relu", name="features")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(x))

    keras.utils.set_random_seed(0)
    parent, child = model(), model()
    weights = {layer.name: layer.get_weights() for layer in parent.layers if layer.weights}
    assert transfer_weights(weights, child) == 1  # the features, not the head named "scores"
    np.testing.assert_array_equal(
        child.get_layer("features").get_weights()[0], weights["features"][0]
    )
    assert not np.array_equal(child.get_layer("scores").get_weights()[0], weights["scores"][0])
    assert transfer_weights(weights, child, include_head=True) == 2
    np.testing.assert_array_equal(child.get_layer("scores").get_weights()[0], weights["scores"][0])
    keras.backend.clear_session()


def test_nan_loss_gives_fitness_zero_with_reason(tmp_path, digits_small):
    d = digits_small
    # activations overflow float32 to inf, so the loss turns NaN in the first batch
    set_worker_data(d.x_train * np.float32(3e38), d.y_train, d.x_val, d.y_val)
    space = tiny_space()
    genes = space.random_genes(1, __import__("random").Random(0))
    e = evaluate(_task(genes, space, tmp_path))
    assert e.status == "failed" and e.fitness == 0.0
    assert "NaN" in e.reason


class BrokenSpace(CNNSpace):
    name = "cnn"

    def build(self, genes, input_shape, num_classes):
        raise ValueError("negative dimension")


def test_invalid_architecture_gives_fitness_zero(tmp_path, with_digits, monkeypatch):
    space = tiny_space()
    from automl_kit.registries import SPACES

    monkeypatch.setattr(SPACES, "get", lambda kind: BrokenSpace)
    e = evaluate(_task(space.random_genes(1, __import__("random").Random(0)), space, tmp_path))
    assert (e.status, e.fitness) == ("failed", 0.0)
    assert "invalid architecture: negative dimension" in e.reason


def test_out_of_memory_gives_fitness_zero(tmp_path, with_digits, monkeypatch):
    import keras
    import tensorflow as tf

    def oom(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(keras.Model, "fit", oom)
    space = tiny_space()
    e = evaluate(_task(space.random_genes(1, __import__("random").Random(0)), space, tmp_path))
    assert (e.status, e.fitness) == ("failed", 0.0) and e.reason.startswith("out of memory")


def test_early_rejection_stops_after_one_epoch(tmp_path, with_digits):
    space = tiny_space()
    e = evaluate(
        _task(
            space.random_genes(1, __import__("random").Random(0)),
            space,
            tmp_path,
            reject_below=0.999,
        )
    )
    assert e.status == "rejected" and e.epochs == 1


def test_past_deadline_is_skipped(tmp_path, with_digits):
    space = tiny_space()
    e = evaluate(
        _task(space.random_genes(1, __import__("random").Random(0)), space, tmp_path, deadline=1.0)
    )
    assert e.status == "skipped" and not e.finished
