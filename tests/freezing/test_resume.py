"""FreezingTrainer checkpoints every epoch; an interrupted run resumes to the unbroken result."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from automl_kit.freezing import AutoFreeze, FreezingTrainer
from automl_kit.freezing.policies import FreezingPolicy
from automl_kit.utils import RunDirectory, to_jsonable
from automl_kit.utils.interrupt import Interrupted, graceful_interrupt, request_stop

EPOCHS = 4
ROOT = Path(__file__).resolve().parents[2]


def dropout_cnn(seed=0):
    """Conv-BN, Dropout, Dense: BatchNorm moving statistics and Dropout masks must resume too.

    An L2 penalty on the first convolution (as the zoo's models have) makes ``val_loss`` depend
    on it: a resumed run's first validation comes in an epoch where ``c1`` is frozen, and Keras
    counts only trainable weights' penalties when it traces the test step.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(
        6, 3, padding="same", kernel_regularizer=keras.regularizers.L2(0.01), name="c1"
    )(inputs)
    x = keras.layers.BatchNormalization(name="c1_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def trainer():
    return FreezingTrainer(
        dropout_cnn(),
        keras.optimizers.SGD(0.05, momentum=0.9),
        policy=AutoFreeze(percentile=60),
        record_rates=True,
    )


def run(digits, run_dir, callbacks=(), resume=False, subject=None):
    subject = subject or trainer()
    history = subject.fit(
        digits.x_train,
        digits.y_train,
        epochs=EPOCHS,
        batch_size=64,
        validation_data=digits.validation_data,
        verbose=0,
        run_dir=run_dir,
        resume=resume,
        seed=7,
        callbacks=callbacks,
    )
    return subject, history


def comparable(log):
    """The freezing log without wall-clock seconds, as JSON stores it."""
    return to_jsonable(
        [{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in log]
    )


def floats(values):
    return np.array(np.atleast_1d(values), dtype=np.float64)  # None -> NaN


def assert_same_log(ours, theirs):
    """Decisions (frozen layers, names, learning rates) exactly; measured floats to 1e-6.

    Gradient sums computed in another process may differ in the last bits (summation order).
    """
    ours, theirs = comparable(ours), comparable(theirs)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        assert mine.keys() == reference.keys()
        for key, value in reference.items():
            if key in ("epoch", "frozen_layers", "frozen_names", "learning_rate"):
                assert mine[key] == value, key
            elif value is None:
                assert mine[key] is None, key
            else:  # NaN (None in JSON) marks a frozen unit's rate: equal_nan checks where
                np.testing.assert_allclose(
                    floats(mine[key]), floats(value), rtol=1e-6, atol=1e-7, err_msg=key
                )


def assert_same_history(ours, theirs):
    """Per-epoch losses and accuracies, training and validation, to 1e-6."""
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(ours[key]) == len(theirs[key]) == EPOCHS, key
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-6, err_msg=key)


class StopAfter(keras.callbacks.Callback):
    """Press Ctrl-C (as the first SIGINT does) at the end of an epoch: the run stops after saving."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            request_stop()


@pytest.fixture(scope="module")
def unbroken(digits, tmp_path_factory):
    subject, history = run(digits, tmp_path_factory.mktemp("unbroken") / "run")
    return subject, history


def test_interrupted_run_resumes_to_the_unbroken_result(digits, tmp_path, unbroken):
    reference, reference_history = unbroken
    # the policy's decisions are part of what must resume: it froze layers after epoch 2
    assert [row["frozen_layers"] for row in reference.log][2:] != [0, 0]
    folder = tmp_path / "run"
    with graceful_interrupt(), pytest.raises(Interrupted, match="after epoch 2"):
        run(digits, folder, callbacks=[StopAfter(1)])
    assert RunDirectory(folder).status == "stopped"
    saved = json.loads((folder / "checkpoint.json").read_text())["state"]
    assert saved["epoch"] == 2 and len(saved["history"]["loss"]) == 2
    assert [p.name for p in folder.glob("*.keras")] == ["checkpoint-0002.keras"]

    resumed, history = run(digits, folder, resume=True)
    assert RunDirectory(folder).status == "finished"
    for ours, theirs in zip(
        resumed.model.get_weights(), reference.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert_same_log(resumed.log, reference.log)
    assert len(resumed.log) == EPOCHS
    policy_state = to_jsonable(resumed.callback.policy.get_state())
    reference_state = to_jsonable(reference.callback.policy.get_state())
    assert policy_state["prefix"] == reference_state["prefix"] > 0
    decisions = [(h["epoch"], h["frozen_layers"]) for h in policy_state["history"]]
    assert decisions == [(h["epoch"], h["frozen_layers"]) for h in reference_state["history"]]
    np.testing.assert_allclose(
        floats(policy_state["previous"]), floats(reference_state["previous"]), rtol=1e-6
    )
    assert_same_history(history.history, reference_history.history)
    assert history.epoch == list(range(EPOCHS))
    written = json.loads((folder / "freezing.json").read_text())
    assert len(written["epochs"]) == EPOCHS


def test_resuming_a_finished_run_trains_nothing(digits, tmp_path):
    folder = tmp_path / "run"
    first, history = run(digits, folder)
    weights = first.model.get_weights()
    again, again_history = run(digits, folder, resume=True)
    # key by key: pytest >= 9.2 refuses approx of a dict of lists
    assert again_history.history.keys() == history.history.keys()
    for key, values in history.history.items():
        assert again_history.history[key] == pytest.approx(values)
    assert comparable(again.log) == comparable(first.log)
    # the fresh model of the second call got the checkpoint's weights, untrained further
    for a, b in zip(again.model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    # its record is the first run's, complete: units, policy decisions and log
    summary = again.summary()
    assert summary["layers"] == first.summary()["layers"]
    assert summary["policy"] == to_jsonable(first.summary()["policy"])
    again.save(tmp_path / "copy")
    assert len(json.loads((tmp_path / "copy" / "freezing.json").read_text())["epochs"]) == EPOCHS


def test_resume_refuses_other_settings_and_missing_runs(digits, tmp_path):
    folder = tmp_path / "run"
    with graceful_interrupt(), pytest.raises(Interrupted):
        run(digits, folder, callbacks=[StopAfter(0)])
    subject = trainer()
    with pytest.raises(ValueError, match="batch_size 64 -> 32"):
        subject.fit(
            digits.x_train,
            digits.y_train,
            epochs=EPOCHS,
            batch_size=32,
            validation_data=digits.validation_data,
            verbose=0,
            run_dir=folder,
            resume=True,
        )
    with pytest.raises(ValueError, match="already holds a 'train' run"):
        run(digits, folder)  # neither resume nor a fresh folder
    with pytest.raises(ValueError, match="holds no earlier run"):
        run(digits, tmp_path / "nothing", resume=True)
    with pytest.raises(ValueError, match="resume=True needs run_dir"):
        run(digits, None, resume=True)


def test_labels_are_checked_against_the_model_outputs(digits):
    model = dropout_cnn()
    small = keras.Model(model.input, keras.layers.Dense(3, name="three")(model.layers[-2].output))
    with pytest.raises(ValueError, match="labels go up to 9 but the model outputs 3 class scores"):
        FreezingTrainer(small).fit(digits.x_train, digits.y_train, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="no class 0"):
        FreezingTrainer(dropout_cnn()).fit(
            digits.x_train[digits.y_train > 0], digits.y_train[digits.y_train > 0], epochs=1
        )
    with pytest.raises(ValueError, match="batch_size"):
        FreezingTrainer(dropout_cnn()).fit(digits.x_train, digits.y_train, epochs=1, batch_size=0)


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    import keras
    sys.path.insert(0, sys.argv[2])
    from automl_kit.datasets import load
    from tests.freezing.test_resume import run

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == 2 * 7 + 3:  # mid-epoch 3
                os.kill(os.getpid(), signal.SIGKILL)

    run(load("digits", n_train=400, seed=0), sys.argv[1], callbacks=[Kill()])
    """
)


@pytest.mark.processes
def test_sigkill_mid_epoch_then_resume(digits, tmp_path, unbroken):
    """A real SIGKILL in epoch 3: the resumed run continues from epoch 2's checkpoint."""
    folder = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(folder), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    saved = json.loads((folder / "checkpoint.json").read_text())["state"]
    assert saved["epoch"] == 2
    resumed, history = run(digits, folder, resume=True)
    reference, reference_history = unbroken
    for ours, theirs in zip(
        resumed.model.get_weights(), reference.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert_same_log(resumed.log, reference.log)
    # the recorded numbers, not only the weights: every epoch's validation as the unbroken run's
    assert [row["frozen_layers"] for row in reference.log][2] > 0  # resumed into a frozen epoch
    assert_same_history(history.history, reference_history.history)
    with open(folder / "freezing_log.csv", newline="") as file:
        written = list(csv.DictReader(file))
    for key in ("val_loss", "val_accuracy", "loss", "accuracy"):
        np.testing.assert_allclose(
            [float(row[key]) for row in written],
            [row[key] for row in reference.log],
            rtol=1e-6,
            err_msg=key,
        )


class FreezeFirst(FreezingPolicy):
    """Freeze the first unit from the first epoch: validation is first traced while it is frozen."""

    name = "freeze_first"

    def frozen_prefix(self, epoch: int) -> int:
        return 1


def test_validation_in_a_frozen_epoch_counts_the_whole_model(digits):
    """val_loss is the model's loss (with every layer's L2 penalty), frozen layers or not."""
    subject = FreezingTrainer(
        dropout_cnn(), keras.optimizers.SGD(0.05, momentum=0.9), policy=FreezeFirst()
    )
    seen = []  # c1 is frozen while batches train, whole again when the epoch is logged
    watch = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(subject.model.get_layer("c1").trainable),
        on_epoch_end=lambda epoch, logs: seen.append(subject.model.get_layer("c1").trainable),
    )
    history = subject.fit(
        digits.x_train,
        digits.y_train,
        epochs=1,
        batch_size=64,
        validation_data=digits.validation_data,
        callbacks=[watch],
        verbose=0,
    )
    assert subject.log[0]["frozen_layers"] == 1
    assert set(seen[:-1]) == {False} and seen[-1] is True
    fresh = keras.models.clone_model(subject.model)
    fresh.set_weights(subject.model.get_weights())
    fresh.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = fresh.evaluate(*digits.validation_data, verbose=0)
    penalty = float(sum(fresh.losses))
    assert penalty > 1e-3  # c1's L2 term: big enough to tell the two apart
    assert history.history["val_loss"][0] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][0] == pytest.approx(accuracy, abs=1e-6)
