import json

import keras
import numpy as np
import pytest

from automl_kit.diagnose import block_starts, fine_tune


def small_base(seed=0):
    """Two VGG-like blocks with Keras-application names, pretrained in the tests on digits 0-4."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(inputs)
    x = keras.layers.BatchNormalization(name="block1_bn")(x)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block2_conv1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block2_conv2")(x)
    return keras.Model(inputs, x, name="base")


@pytest.fixture(scope="module")
def pretrained(digits):
    base = small_base()
    keep = digits.y_train < 5
    clf = keras.Sequential(
        [base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5, activation="softmax")]
    )
    clf.compile("adam", "sparse_categorical_crossentropy")
    clf.fit(digits.x_train[keep], digits.y_train[keep], epochs=3, batch_size=32, verbose=0)
    return [(layer.name, [np.array(w) for w in layer.get_weights()]) for layer in base.layers]


def fresh_base(pretrained):
    base = small_base(seed=1)
    saved = dict(pretrained)
    for layer in base.layers:
        if layer.weights:
            layer.set_weights(saved[layer.name])
    return base


def weights_of(base):
    return {
        layer.name: [np.array(w) for w in layer.get_weights()]
        for layer in base.layers
        if layer.weights
    }


def changed(before, after):
    return {n for n in before if any(not np.array_equal(a, b) for a, b in zip(before[n], after[n]))}


def test_block_starts_top_first():
    assert block_starts(small_base()) == ["block2_conv1", "block1_conv1"]


def test_each_stage_freezes_exactly_the_intended_layers(digits, pretrained):
    base = fresh_base(pretrained)
    result = fine_tune(base, None, digits, epochs=2, patience=1, until_no_gain=False, seed=0)
    stages = result.stages
    assert [s["trainable_base_layers"] for s in stages] == [
        [],
        ["block2_conv1", "block2_conv2"],
        ["block1_conv1", "block2_conv1", "block2_conv2"],  # BN stays frozen
    ]
    assert [s["learning_rate"] for s in stages] == pytest.approx([1e-3, 1e-4, 1e-4])
    # head kernel+bias, then + 2 convs x 2, then + 1 conv x 2
    assert [s["trainable_weights"] for s in stages] == [2, 6, 8]
    json.dumps(result.summary())


@pytest.mark.slow
def test_head_stage_leaves_the_base_untouched_and_unfreezing_changes_only_the_top(
    digits, pretrained
):
    base = fresh_base(pretrained)
    before = weights_of(base)
    fine_tune(base, None, digits, stages=[], epochs=1, seed=0)
    assert changed(before, weights_of(base)) == set()
    base = fresh_base(pretrained)
    result = fine_tune(
        base, None, digits, stages=["block2_conv1"], epochs=1, until_no_gain=False, seed=0
    )
    if result.best_stage == 1:
        assert changed(before, weights_of(base)) == {"block2_conv1", "block2_conv2"}
    else:  # the head-only weights were better and were restored
        assert changed(before, weights_of(base)) == set()


def test_stops_when_validation_stops_improving(digits, pretrained, tmp_path):
    base = fresh_base(pretrained)
    # min_delta of 1 (100 points) can never be beaten: the recipe stops after stage 1
    result = fine_tune(base, None, digits, epochs=1, min_delta=1.0, seed=0, run_dir=tmp_path)
    assert len(result.stages) == 2 and result.best_stage == 0
    assert not result.stages[1]["improved"]
    # the best stage's flags are left on: the base is frozen again
    assert all(not layer.trainable_weights for layer in base.layers)
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "fine_tune.json").is_file()


def test_bad_stages(digits, pretrained):
    base = fresh_base(pretrained)
    with pytest.raises(ValueError, match="neither a layer"):
        fine_tune(base, None, digits, stages=["block9_conv1"])
    with pytest.raises(ValueError, match="ever deeper"):
        fine_tune(base, None, digits, stages=["block1_conv1", "block2_conv1"])
    with pytest.raises(ValueError, match="1..3"):
        fine_tune(base, None, digits, stages=[7])
    with pytest.raises(ValueError, match="learning_rate_factor"):
        fine_tune(base, None, digits, learning_rate_factor=3)


@pytest.mark.slow
def test_stage_counts(digits, pretrained):
    base = fresh_base(pretrained)
    r = fine_tune(base, None, digits, stages=[1, 3], epochs=1, until_no_gain=False, seed=0)
    assert r.stages[1]["trainable_base_layers"] == ["block2_conv2"]
    assert r.stages[2]["trainable_base_layers"] == ["block1_conv1", "block2_conv1", "block2_conv2"]
