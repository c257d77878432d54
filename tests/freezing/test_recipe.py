"""FreezingTrainer on the shared training recipe: its schedule, augmentation, best epoch, resume."""

import keras
import numpy as np
import pytest

from automl_kit.freezing import FreezeOut, FreezingTrainer
from automl_kit.training import EpochBatches, Recipe
from automl_kit.utils.interrupt import Interrupted, graceful_interrupt, request_stop
from tests.freezing.conftest import tiny_cnn


def colour_cnn(seed=0):
    """conv-BN, dropout, conv on 8x8x3 images: flips and translations apply (colour)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="c1_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Dropout(0.2)(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="head")(x))


@pytest.fixture(scope="module")
def colour(digits):
    """Digits as three-channel images (the recipe augments colour images)."""
    x = np.repeat(digits.x_train[:256], 3, axis=-1)
    x_val = np.repeat(digits.x_val, 3, axis=-1)
    return x, digits.y_train[:256], (x_val, digits.y_val)


def test_the_default_trainer_uses_the_recipe_and_keeps_the_best_epoch(digits):
    trainer = FreezingTrainer(tiny_cnn(), policy=FreezeOut(t0=0.5))
    assert trainer.recipe == Recipe() and trainer.schedule is None
    history = trainer.fit(
        digits.x_train,
        digits.y_train,
        epochs=3,
        validation_data=digits.validation_data,
        seed=0,
        verbose=0,
    )
    optimizer = trainer.model.optimizer
    assert type(optimizer).__name__ == "AdamW" and optimizer.weight_decay == 5e-4
    steps = -(-len(digits.x_train) // 64)  # the recipe's batch size
    config = optimizer.get_config()["learning_rate"]["config"]
    assert config["total_steps"] == 3 * steps and config["shape"] == "cosine"
    assert int(optimizer.iterations) == 3 * steps
    # the weights kept are the best validation epoch's, not the last one's
    kept = trainer.model.evaluate(*digits.validation_data, verbose=0)[1]
    assert kept == pytest.approx(max(history.history["val_accuracy"]), abs=1e-6)


def test_an_optimizer_replaces_the_recipe_and_schedule_needs_one():
    plain = FreezingTrainer(tiny_cnn(), keras.optimizers.SGD(0.05))
    assert plain.recipe is None and plain.schedule == "step"
    with pytest.raises(ValueError, match="schedule= applies to an optimizer you pass"):
        FreezingTrainer(tiny_cnn(), schedule="step")
    config = FreezingTrainer(tiny_cnn(), recipe=Recipe(label_smoothing=0.1)).get_config()
    again = FreezingTrainer.from_config(config, tiny_cnn())
    assert again.recipe == Recipe(label_smoothing=0.1) and again.optimizer is None


def test_augmentation_runs_on_training_batches_only_and_replays_by_seed(colour):
    x, y, _ = colour
    augmenter = Recipe().augmenter(x.shape[1:])
    batches = EpochBatches(x, y, 32, seed=3, augmenter=augmenter)
    again = EpochBatches(x, y, 32, seed=3, augmenter=augmenter)
    plain = EpochBatches(x, y, 32, seed=3)
    first = batches[0][0]
    np.testing.assert_array_equal(first, again[0][0])  # same seed, epoch, index: same images
    assert not np.allclose(first, plain[0][0])  # flipped or shifted
    np.testing.assert_array_equal(batches[0][1], plain[0][1])  # labels untouched
    later = EpochBatches(x, y, 32, seed=3, epoch=1, augmenter=augmenter)
    assert not np.allclose(later[0][0], first)
    assert Recipe().augmenter((8, 8, 1)) is None  # grey images are not flipped (auto)


def test_a_recipe_run_stopped_and_resumed_ends_as_an_unbroken_one(colour, tmp_path):
    """Augmented batches, the schedule's position and the best epoch all resume."""
    x, y, validation = colour

    def train(folder, callbacks=(), resume=False):
        trainer = FreezingTrainer(colour_cnn(), policy=FreezeOut(t0=0.5))
        history = trainer.fit(
            x,
            y,
            epochs=3,
            validation_data=validation,
            run_dir=folder,
            resume=resume,
            seed=5,
            callbacks=list(callbacks),
            verbose=0,
        )
        return trainer, history

    reference, reference_history = train(tmp_path / "unbroken")

    class StopAfterFirst(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                request_stop()

    with graceful_interrupt(), pytest.raises(Interrupted):
        train(tmp_path / "broken", [StopAfterFirst()])
    resumed, history = train(tmp_path / "broken", resume=True)
    for key in ("loss", "val_accuracy"):
        np.testing.assert_allclose(history.history[key], reference_history.history[key], rtol=1e-5)
    for a, b in zip(resumed.model.get_weights(), reference.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "broken" / "best.keras").is_file()
