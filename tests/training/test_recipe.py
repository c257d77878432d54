"""The shared training recipe: schedule values, config round trip, augmentation only in
training, label smoothing, kept weights, bad options refused, same seed same result."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from automl_kit.training.recipe import (
    KeepBestWeights,
    Recipe,
    SparseLabelSmoothing,
    WarmupSchedule,
)
from automl_kit.zoo import build_model


@pytest.mark.parametrize(
    "shape, steps, rates",
    [
        # 10 steps, 2 of warm-up: 0.05, 0.1 then the decay over steps 2..9
        ("cosine", (0, 1, 2, 9), (0.05, 0.1, 0.1, 0.0)),
        ("onecycle", (0, 1, 2, 9), (0.05, 0.1, 0.1, 0.0)),
        ("step", (2, 5, 7, 9), (0.1, 0.1, 0.01, 0.001)),
        ("constant", (0, 2, 9), (0.05, 0.1, 0.1)),
    ],
)
def test_the_schedule_has_its_learning_rate_at_chosen_steps(shape, steps, rates):
    sched = Recipe(learning_rate=0.1, warmup=0.2, schedule=shape).learning_rate_schedule(10)
    assert [float(sched(s)) for s in steps] == pytest.approx(rates, abs=1e-6)


def test_cosine_is_half_way_at_the_middle_of_the_decay():
    sched = WarmupSchedule(1.0, total_steps=11, warmup_steps=0, shape="cosine")
    assert float(sched(5)) == pytest.approx(0.5, abs=1e-6)


def test_config_round_trips_and_the_schedule_serialises():
    recipe = Recipe(optimizer="sgd", schedule="onecycle", label_smoothing=0.1, keep="ema")
    assert Recipe.from_config(recipe.get_config()) == recipe
    sched = recipe.learning_rate_schedule(100)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sched))
    assert again.get_config() == sched.get_config()


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"optimizer": "adamx"}, "optimizer 'adamx' is none of"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"warmup": 1.0}, "warmup is a fraction"),
        ({"schedule": "cosin"}, "schedule 'cosin' is none of"),
        ({"label_smoothing": 1.5}, "label_smoothing must be in [0, 1)"),
        ({"augment": "flips"}, "augment 'flips' is none of"),
        ({"keep": "final"}, "keep 'final' is none of"),
        ({"batch_size": 0}, "batch_size must be a whole number"),
    ],
)
def test_bad_options_are_refused_naming_the_choices(options, fragment):
    with pytest.raises(ValueError) as err:
        Recipe(**options)
    assert fragment in str(err.value)


def test_auto_augments_colour_images_only():
    recipe = Recipe()
    assert recipe.augmentation_for((32, 32, 3)) == "flip_translate"
    assert recipe.augmentation_for((28, 28, 1)) == "none"  # a flipped digit is another digit
    assert recipe.augmentation_for((20,)) == "none"
    assert Recipe(augment="translate").augmentation_for((28, 28, 1)) == "translate"
    with pytest.raises(ValueError, match="transforms images"):
        Recipe(augment="translate").augmenter((20,))


def test_augmentation_runs_in_training_batches_only():
    x = np.random.default_rng(0).random((16, 8, 8, 3)).astype("float32")
    y = np.arange(16) % 2
    recipe = Recipe(augment="flip_translate", batch_size=16)
    train = next(iter(recipe.dataset(x, y, training=True, seed=0)))
    val = next(iter(recipe.dataset(x, y, training=False)))
    np.testing.assert_array_equal(val[0].numpy(), x)  # untouched, in order
    assert not np.allclose(np.sort(train[0].numpy().ravel()), np.sort(x.ravel()))


def test_label_smoothing_keeps_integer_labels_and_matches_the_categorical_loss():
    import keras

    loss = SparseLabelSmoothing(0.1)
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], "float32")
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(
        np.eye(3, dtype="float32")[[0, 2]], probabilities
    )
    assert float(loss(np.array([0, 2]), probabilities)) == pytest.approx(float(expected), rel=1e-6)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    Recipe(label_smoothing=0.1).compile(model, total_steps=10)
    x, y = np.zeros((4, 3), "float32"), np.array([0, 1, 2, 1])
    assert len(model.evaluate(x, y, verbose=0)) == 2  # integer labels still evaluate
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert again.get_config() == loss.get_config()


def _blobs(seed: int = 0, n: int = 96):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 1, (n, 6)).astype("float32") + 2.0 * np.eye(6, dtype="float32")[y]
    return x, y


def _mlp(seed: int = 0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def test_fit_learns_and_the_same_seed_gives_the_same_weights():
    x, y = _blobs()
    histories, weights = [], []
    for _ in range(2):
        model = _mlp()
        recipe = Recipe(batch_size=16, learning_rate=3e-2)
        histories.append(recipe.fit(model, x, y, validation_data=(x, y), epochs=10, seed=1).history)
        weights.append(model.get_weights())
    assert histories[0]["val_accuracy"][-1] > 0.8
    assert histories[0]["loss"] == histories[1]["loss"]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_without_validation_keeps_the_last_weights_and_keep_best_needs_validation():
    x, y = _blobs()
    model = _mlp()
    history = Recipe(batch_size=16, learning_rate=3e-2, keep="last").fit(
        model, x, y, validation_data=None, epochs=5
    )
    assert "val_accuracy" not in history.history and history.history["accuracy"][-1] > 0.8
    with pytest.raises(ValueError, match="validation_data=.*keep='last'"):
        Recipe().fit(_mlp(), x, y, validation_data=None, epochs=1)


def test_sample_weight_weights_each_examples_loss_and_bad_weights_are_refused():
    x, y = _blobs()
    recipe = Recipe(batch_size=16, learning_rate=3e-2, keep="last")
    unweighted, weighted = _mlp(), _mlp()
    recipe.fit(unweighted, x, y, validation_data=None, epochs=5)
    recipe.fit(weighted, x, y, validation_data=None, epochs=5, sample_weight=(y != 2) * 1.0)
    # class 2 carries no weight: the weighted model never learns to predict it
    assert (unweighted.predict(x[y == 2], verbose=0).argmax(1) == 2).mean() > 0.8
    assert (weighted.predict(x[y == 2], verbose=0).argmax(1) == 2).mean() < 0.2
    for bad in (np.ones(len(y) - 1), -np.ones(len(y)), np.full(len(y), np.nan)):
        with pytest.raises(ValueError, match="one finite weight >= 0 per training example"):
            recipe.fit(_mlp(), x, y, validation_data=None, epochs=1, sample_weight=bad)


def test_a_checkpointed_fit_stopped_and_resumed_ends_as_an_unbroken_one(tmp_path, stop_after_epoch):
    from automl_kit.utils import RunDirectory
    from automl_kit.utils.interrupt import Interrupted

    x, y = _blobs()
    recipe = Recipe(batch_size=16, learning_rate=3e-2)
    weights = (y != 2) * 1.0 + 0.5  # weights travel with the batches too

    def fit(folder, resume=False):
        keras.utils.set_random_seed(0)
        model = _mlp()
        with RunDirectory.claim(folder, "fit", resume=resume) as run:
            history = recipe.fit(
                model, x, y, validation_data=(x, y), epochs=4, seed=1, sample_weight=weights,
                run=run, resume=resume,
            )  # fmt: skip
        return model, history.history

    whole, whole_history = fit(tmp_path / "whole")
    stop_after_epoch(2)
    with pytest.raises(Interrupted):
        fit(tmp_path / "cut")
    stop_after_epoch(None)
    resumed, history = fit(tmp_path / "cut", resume=True)
    assert history["val_accuracy"] == whole_history["val_accuracy"]  # all 4 epochs
    for a, b in zip(resumed.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the best epoch's weights, as unbroken
    with pytest.raises(ValueError, match="sample_weight"):  # other weights: not this fit
        with RunDirectory.claim(tmp_path / "cut", "fit", resume=True) as run:
            recipe.fit(_mlp(), x, y, validation_data=(x, y), epochs=4, seed=1, run=run,
                       resume=True)  # fmt: skip
    with pytest.raises(ValueError, match="keep='ema'"):
        with RunDirectory.claim(tmp_path / "ema", "fit") as run:
            Recipe(keep="ema").fit(_mlp(), x, y, validation_data=(x, y), epochs=1, run=run)


def test_keep_best_restores_the_best_validation_epoch():
    model = _mlp()
    keep = KeepBestWeights()
    keep.set_model(model)
    for epoch, accuracy in enumerate((0.5, 0.9, 0.7)):
        if epoch == 1:
            best = [w + 0 for w in model.get_weights()]
        keep.on_epoch_end(epoch, {"val_accuracy": accuracy})
        model.set_weights([w + 1 for w in model.get_weights()])
    keep.on_train_end()
    assert keep.best_epoch == 1
    for a, b in zip(model.get_weights(), best, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_textbook_cnn_trains_with_the_recipe_on_images():
    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 3)).astype("float32")
    y = np.arange(32) % 4
    keras.utils.set_random_seed(0)
    model = build_model("textbook_cnn", (16, 16, 3), 4, width=0.25)
    history = Recipe(batch_size=16).fit(model, x, y, validation_data=(x[:8], y[:8]), epochs=2)
    assert len(history.history["val_accuracy"]) == 2
    assert model.predict(x[:2], verbose=0).shape == (2, 4)
