"""Freezing under ``tf.distribute.MirroredStrategy``: two logical CPUs train what one device does.

Logical devices must be set before TensorFlow initialises its devices, so the runs happen in a
child process (``python -m tests.freezing.test_distributed OUT``) that writes what it saw to a
JSON file; the tests compare. Each path (``model.fit`` with :class:`FreezingCallback`, and
:class:`FreezingTrainer` with a run directory) trains the same tiny conv model from the same
weights once on one device and once mirrored on two, with SGD without momentum, batches split
evenly, no shuffling and a synchronised BatchNormalization (a plain one normalises each
replica's half-batch on its own, which is another computation, not a freezing matter). The
slow runs add FreezingTrainer and FreezeOut / AutoFreeze (SGD with momentum).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = [0, 2, 1, 0]  # frozen units per epoch: c1 (+ its BN) and c2, then c1 alone
MEASURED = (0, 2)  # epochs whose gradient statistics the policy asks for
BATCH, SAMPLES = 32, 128
UNIT_LAYERS = [["c1", "c1_bn"], ["c2"], ["head"]]


# ---------------------------------------------------------------------- the child process
def _model(keras):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(synchronized=True, name="c1_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def _weights(model) -> dict:
    return {
        layer.name: [w.tolist() for w in layer.get_weights()]
        for layer in model.layers
        if layer.weights
    }


def _record(model, snapshots, history, log) -> dict:
    """What both runs of a path are compared on: weights at every epoch, loss, freezing rates."""
    return {
        "weights": _weights(model),
        "begin": snapshots.begin,
        "end": snapshots.end,
        "loss": history.history["loss"],
        "rates": [row["freezing_rates"] for row in log],
    }


def _child(out: str, paths: list[str]) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from automl_kit.freezing import AutoFreeze, FreezeOut, FreezingCallback, FreezingTrainer
    from tests.freezing.conftest import FixedSchedule

    class MeasuredSchedule(FixedSchedule):
        """Fixed prefixes; gradient statistics in some epochs (measuring and plain steps mix)."""

        uses_statistics = True

        def collects_statistics(self, epoch):
            return epoch in MEASURED

    class Snapshots(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.begin, self.end = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin.append(_weights(self.model))

        def on_epoch_end(self, epoch, logs=None):
            self.end.append(_weights(self.model))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, SAMPLES)
    # one strategy for every run: a second MirroredStrategy in one process can clash with the
    # first one's collective keys (TensorFlow, not freezing)
    strategies = {"one": tf.distribute.get_strategy(), "two": tf.distribute.MirroredStrategy()}
    assert strategies["two"].num_replicas_in_sync == 2
    results: dict = {}
    for devices, strategy in strategies.items():
        if "callback" not in paths:
            break
        with strategy.scope():
            model = _model(keras)
            model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        snapshots, callback = Snapshots(), FreezingCallback(MeasuredSchedule(PREFIXES))
        history = model.fit(
            x,
            y,
            epochs=len(PREFIXES),
            batch_size=BATCH,
            shuffle=False,
            callbacks=[callback, snapshots],
            verbose=0,
        )
        results[f"callback/{devices}"] = {
            **_record(model, snapshots, history, callback.log),
            "compilations": callback.steps.compilations,
        }

    for devices, strategy in strategies.items():
        if "trainer" not in paths:
            break
        with strategy.scope():
            model = _model(keras)
            trainer = FreezingTrainer(
                model, keras.optimizers.SGD(0.05), policy=FixedSchedule(PREFIXES), record_rates=True
            )
        snapshots = Snapshots()
        history = trainer.fit(
            x,
            y,
            epochs=len(PREFIXES),
            batch_size=BATCH,
            shuffle=False,
            callbacks=[snapshots],
            verbose=0,
            run_dir=os.path.join(os.path.dirname(out), f"run_{devices}"),
            seed=0,
        )
        results[f"trainer/{devices}"] = _record(model, snapshots, history, trainer.log)

    for policy in (FreezeOut, AutoFreeze):  # per-unit gradient scales; statistics every epoch
        for devices, strategy in strategies.items():
            if "policies" not in paths:
                break
            with strategy.scope():
                model = _model(keras)
                model.compile(
                    keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy"
                )
            callback = FreezingCallback(policy())
            history = model.fit(
                x,
                y,
                epochs=len(PREFIXES),
                batch_size=BATCH,
                shuffle=False,
                callbacks=[callback],
                verbose=0,
            )
            results[f"{policy.name}/{devices}"] = {
                "weights": _weights(model),
                "loss": history.history["loss"],
                "frozen": [row["frozen_layers"] for row in callback.log],
            }

    if "callback" in paths:
        with strategies["two"].scope():
            model = _model(keras)
        model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")  # outside
        try:
            model.fit(x, y, epochs=1, batch_size=BATCH, callbacks=[FreezingCallback()], verbose=0)
            results["outside_scope_error"] = None
        except ValueError as error:
            results["outside_scope_error"] = str(error)
    with open(out, "w") as f:
        json.dump(results, f)


# ---------------------------------------------------------------------- the tests
def _runs(tmp_path_factory, *paths: str) -> dict:
    out = tmp_path_factory.mktemp("mirrored") / "runs.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.freezing.test_distributed", str(out), *paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """``model.fit`` with FreezingCallback (the mechanics FreezingTrainer also runs through)."""
    return _runs(tmp_path_factory, "callback")


@pytest.fixture(scope="module")
def trainer_runs(tmp_path_factory) -> dict:
    """FreezingTrainer with a run directory (EpochBatches, checkpoints, the step schedule)."""
    return _runs(tmp_path_factory, "trainer")


@pytest.fixture(scope="module")
def policy_runs(tmp_path_factory) -> dict:
    """FreezeOut (per-unit gradient scales) and AutoFreeze (statistics every epoch), SGD momentum."""
    return _runs(tmp_path_factory, "policies")


def _path_runs(request, path: str) -> dict:
    return request.getfixturevalue("runs" if path == "callback" else "trainer_runs")


# replicas start their own processes: CI's `processes` step runs them
PATHS = [
    pytest.param("callback", marks=pytest.mark.processes),
    pytest.param("trainer", marks=pytest.mark.slow),
]


def _assert_same_weights(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    for name in theirs:
        for a, b in zip(ours[name], theirs[name], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("path", PATHS)
def test_two_replicas_train_what_one_device_trains(request, path):
    runs = _path_runs(request, path)
    one, two = runs[f"{path}/one"], runs[f"{path}/two"]
    _assert_same_weights(two["weights"], one["weights"])
    for begin_two, begin_one in zip(two["begin"], one["begin"], strict=True):
        _assert_same_weights(begin_two, begin_one)
    # the logged loss is the batch's, not a replica's share of it
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
    # gradient statistics of the whole batch, in the epochs that measured them
    for rates_two, rates_one in zip(two["rates"], one["rates"], strict=True):
        assert (rates_two is None) == (rates_one is None)
        if rates_one is not None:
            np.testing.assert_allclose(
                np.array(rates_two, float), np.array(rates_one, float), rtol=1e-4, atol=1e-6
            )


@pytest.mark.parametrize("path", PATHS)
def test_frozen_prefix_does_not_change_under_two_replicas(request, path):
    run = _path_runs(request, path)[f"{path}/two"]
    for epoch, prefix in enumerate(PREFIXES):
        begin, end = run["begin"][epoch], run["end"][epoch]
        for unit, names in enumerate(UNIT_LAYERS):
            kernel = names[0]
            if unit < prefix:  # frozen: kernel, bias and its BN's gamma/beta exactly as they were
                for name in names:
                    parameters = 2  # kernel and bias, or gamma and beta; BN statistics still move
                    for a, b in zip(end[name][:parameters], begin[name][:parameters]):
                        np.testing.assert_array_equal(a, b, err_msg=f"{name} in epoch {epoch}")
            else:
                assert not np.allclose(end[kernel][0], begin[kernel][0]), (kernel, epoch)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["freezeout", "autofreeze"])
def test_freezeout_and_autofreeze_under_two_replicas(policy_runs, policy):
    one, two = policy_runs[f"{policy}/one"], policy_runs[f"{policy}/two"]
    _assert_same_weights(two["weights"], one["weights"])
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
    assert two["frozen"] == one["frozen"] and max(one["frozen"]) > 0


@pytest.mark.processes  # the runs fixture starts replica processes
def test_measuring_and_plain_steps_are_compiled_apart_under_two_replicas(runs):
    one, two = runs["callback/one"], runs["callback/two"]
    assert [r is not None for r in two["rates"]] == [e in MEASURED for e in range(len(PREFIXES))]
    # one device: a step per frozen prefix (0, 2, 1); two: (0, measuring), (2), (1, measuring), (0)
    assert (one["compilations"], two["compilations"]) == (3, 4)


@pytest.mark.processes  # the runs fixture starts replica processes
def test_an_optimizer_created_outside_the_strategy_scope_is_refused(runs):
    assert "inside the same `strategy.scope()`" in runs["outside_scope_error"]


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2:])
