"""Freezing mechanics on a real (tiny) Keras model: weights, backward work, optimizer state, fit."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from automl_kit.freezing import (
    FreezeOut,
    FreezingCallback,
    FreezingTrainer,
    IntelligentFreezing,
    plot_freezing_rates,
    plot_frozen_prefix,
)
from automl_kit.training import TrainSteps, freezable_units, variables_after
from tests.freezing.conftest import FixedSchedule, compile_sgd, tiny_cnn


def fit(model, data, policy, epochs, callbacks=(), **kwargs):
    callback = FreezingCallback(policy, **kwargs)
    history = model.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=64,
        validation_data=data.validation_data,
        callbacks=[callback, *callbacks],
        verbose=0,
        shuffle=False,
    )
    return callback, history


def test_units_pair_each_batchnorm_with_its_conv():
    units = freezable_units(tiny_cnn())
    assert [u.name for u in units] == ["c1", "c2", "c3", "head"]
    assert [len(u.layers) for u in units] == [2, 2, 1, 1]


def test_frozen_layers_do_not_change_in_a_frozen_epoch(digits, weights_of):
    model = compile_sgd(tiny_cnn())
    names = ["c1", "c1_bn", "c2", "c2_bn", "c3", "head"]
    before = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            before[epoch] = weights_of(self.model, names)

    callback, history = fit(model, digits, FixedSchedule([0, 2]), epochs=2, callbacks=[Snapshot()])
    after = weights_of(model, names)
    start = before[1]
    for name in ("c1", "c1_bn", "c2", "c2_bn"):  # frozen in epoch 1: kernels and BN gamma unchanged
        np.testing.assert_array_equal(after[name][0], start[name][0])
    for name in ("c3", "head"):
        assert not np.allclose(after[name][0], start[name][0])
    assert history.history["frozen_layers"] == [0, 2]
    assert [row["frozen_names"] for row in callback.log] == [[], ["c1", "c2"]]
    assert all(layer.trainable for layer in model.layers)  # flags restored after fit


@pytest.mark.parametrize(("mode", "moving_changes"), [("update", True), ("inference", False)])
def test_frozen_batchnorm_modes(digits, weights_of, mode, moving_changes):
    model = compile_sgd(tiny_cnn())
    snapshots = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            snapshots[epoch] = weights_of(self.model, ["c1_bn"])["c1_bn"]

    fit(
        model,
        digits,
        FixedSchedule([0, 1]),
        epochs=2,
        callbacks=[Snapshot()],
        frozen_batchnorm=mode,
    )
    gamma, beta, moving_mean, _ = snapshots[1]
    now = weights_of(model, ["c1_bn"])["c1_bn"]
    np.testing.assert_array_equal(now[0], gamma)
    np.testing.assert_array_equal(now[1], beta)
    assert (not np.allclose(now[2], moving_mean)) == moving_changes


def _backward_ops(model, prefix):
    """Conv backprop ops the compiled step will run: those that feed an output or a state update.

    Ops the tape creates but nothing consumes are pruned when the function runs, so we count
    only what is reachable backwards from the outputs and the control outputs (the updates).
    """
    steps = TrainSteps(model)
    step = tf.function(
        steps.make_step(variables_after(freezable_units(model), prefix, steps.variables))
    )
    graph = step.get_concrete_function(
        (tf.TensorSpec([16, 8, 8, 1], tf.float32), tf.TensorSpec([16], tf.int64))
    ).graph
    pending = [t.op for t in graph.outputs] + list(graph.control_outputs)
    reached = set()
    while pending:
        op = pending.pop()
        if op.name in reached:
            continue
        reached.add(op.name)
        pending += [t.op for t in op.inputs] + list(op.control_inputs)
    ops = [graph.get_operation_by_name(name).type for name in reached]
    return ops.count("Conv2DBackpropFilter"), ops.count("Conv2DBackpropInput")


def test_frozen_prefix_skips_backward_work():
    model = compile_sgd(tiny_cnn())
    model.optimizer.build(model.trainable_variables)
    # nothing frozen: three kernel gradients; input gradients for c2 and c3 only
    assert _backward_ops(model, 0) == (3, 2)
    # c1 and c2 frozen: only c3's kernel gradient, and no gradient flows into the prefix
    assert _backward_ops(model, 2) == (1, 0)
    assert _backward_ops(model, 3) == (0, 0)


def test_optimizer_state_survives_freeze_and_unfreeze(digits):
    model = compile_sgd(tiny_cnn())
    kernel = model.get_layer("c1").kernel
    momenta = {}

    class Momentum(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            optimizer = self.model.optimizer
            momenta[epoch] = (
                optimizer.momentums[optimizer._get_variable_index(kernel)].numpy().copy()
            )

    callback, _ = fit(model, digits, FixedSchedule([0, 1, 0]), epochs=3, callbacks=[Momentum()])
    assert callback.steps.compilations == 2  # back to prefix 0: the cached step, no retracing
    assert np.abs(momenta[0]).sum() > 0
    np.testing.assert_array_equal(momenta[1], momenta[0])  # untouched while frozen
    assert not np.allclose(momenta[2], momenta[1])  # and used again once unfrozen


def test_fit_path_with_keras_callbacks(digits, tmp_path):
    model = compile_sgd(tiny_cnn())
    checkpoint = tmp_path / "best.keras"
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_accuracy", save_best_only=False),
        keras.callbacks.EarlyStopping(monitor="loss", patience=10),
        keras.callbacks.CSVLogger(tmp_path / "log.csv"),
        keras.callbacks.TensorBoard(tmp_path / "tb", write_graph=False),
    ]
    callback, history = fit(model, digits, FixedSchedule([0, 2, 3]), epochs=3, callbacks=callbacks)
    restored = keras.models.load_model(checkpoint)
    assert all(layer.trainable for layer in restored.layers)  # saved between epochs: not frozen
    np.testing.assert_allclose(
        restored.predict(digits.x_test[:5], verbose=0),
        model.predict(digits.x_test[:5], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    assert "frozen_layers" in (tmp_path / "log.csv").read_text().splitlines()[0]
    assert any((tmp_path / "tb").rglob("*tfevents*"))
    assert len(history.history["val_accuracy"]) == 3
    # afterwards the model trains normally again, all layers included
    c1 = model.get_layer("c1").get_weights()[0].copy()
    model.fit(digits.x_train, digits.y_train, epochs=1, verbose=0)
    assert not np.allclose(model.get_layer("c1").get_weights()[0], c1)


def test_early_stopping_ends_a_freezing_run(digits):
    model = compile_sgd(tiny_cnn())
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=0, baseline=1.01)
    callback, history = fit(model, digits, FixedSchedule([0] * 5), epochs=5, callbacks=[stop])
    assert len(history.history["loss"]) == len(callback.log) < 5


def test_trainer_intelligent_run_logs_rates_and_plots(digits, tmp_path):
    model = tiny_cnn()
    trainer = FreezingTrainer(
        model,
        keras.optimizers.SGD(0.05, momentum=0.9),
        policy=IntelligentFreezing(),
        record_rates=True,
    )
    checkpoint = tmp_path / "last.keras"
    history = trainer.fit(
        digits.x_train,
        digits.y_train,
        epochs=4,
        batch_size=32,
        validation_data=digits.validation_data,
        verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(checkpoint),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=10),
        ],
    )
    assert len(history.history["loss"]) == 4
    assert keras.models.load_model(checkpoint).count_params() == model.count_params()
    log = trainer.log
    assert [row["learning_rate"] for row in log] == pytest.approx([0.05, 0.05, 0.005, 0.0005])
    assert all(len(row["freezing_rates"]) == 4 for row in log)
    rates = np.array(log[0]["freezing_rates"])
    assert np.all((rates >= 0) & (rates <= 1))
    policy = trainer.callback.policy
    assert policy.mode == "safe" and sorted(policy.stages) == [0, 2, 3]  # measured per stage
    assert [row["frozen_layers"] for row in log] == [policy.frozen_prefix(e) for e in range(4)]
    trainer.save_log(tmp_path)
    assert (
        (tmp_path / "freezing_log.csv").read_text().startswith("epoch,learning_rate,frozen_layers")
    )
    summary = trainer.callback.summary()
    plot_freezing_rates(summary, tmp_path / "rates.png")
    plot_frozen_prefix(summary, tmp_path / "prefix.png")
    assert (tmp_path / "rates.png").stat().st_size > 0 and (
        tmp_path / "prefix.png"
    ).stat().st_size > 0


def test_freezeout_freezes_and_stops_updating(digits, weights_of):
    model = compile_sgd(tiny_cnn(), lr=0.05)
    callback, _ = fit(model, digits, FreezeOut(t0=0.5, spacing="linear"), epochs=4)
    assert [row["frozen_layers"] for row in callback.log] == [0, 0, 1, 2]
    assert callback.scales.scales.numpy()[0] == 0.0


def test_bad_input_is_explained(digits):
    model = tiny_cnn()
    with pytest.raises(ValueError, match="compile"):
        model.fit(
            digits.x_train,
            digits.y_train,
            epochs=1,
            verbose=0,
            callbacks=[FreezingCallback(FixedSchedule([0]))],
        )
    with pytest.raises(TypeError, match="FreezingPolicy"):
        FreezingCallback("intelligent")
    trainer = FreezingTrainer(tiny_cnn())
    x = digits.x_train.copy()
    x[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        trainer.fit(x, digits.y_train, epochs=1)
    with pytest.raises(ValueError, match="frozen_batchnorm"):
        FreezingTrainer(compile_sgd(tiny_cnn()), frozen_batchnorm="eval").fit(
            digits.x_train, digits.y_train, epochs=1, verbose=0
        )


def test_without_a_step_schedule_stages_start_at_half_and_three_quarters(digits):
    """The recipe's cosine has no drops: the policy still measures again as training converges,
    keeping the earlier stage's prefix frozen while it does; the log accounts for the time."""
    model = compile_sgd(tiny_cnn(seed=2), lr=0.2)  # a seed whose first stage freezes a unit
    callback, _ = fit(model, digits, IntelligentFreezing(confirm=1), epochs=8)
    assert callback.plan.stage_starts == (0, 4, 6)
    policy, log = callback.policy, callback.log
    assert sorted(policy.stages) == [0, 4, 6]
    assert [row["statistics"] for row in log if row["epoch"] in (0, 4, 6)] == [True] * 3
    for previous, start in ((0, 4), (4, 6)):  # a later stage keeps the previous prefix
        kept = policy.stages[start]["kept"]
        assert kept == policy.stages[previous]["group1_layers"] == log[start]["frozen_layers"]
        assert policy.stages[start]["group1_layers"] >= kept
    assert policy.stages[4]["kept"] >= 1  # measured with a unit frozen (its rate NaN)
    prefixes = [row["frozen_layers"] for row in log]
    assert prefixes == sorted(prefixes)  # never unfrozen again
    assert all(row["first_step_seconds"] <= row["epoch_seconds"] for row in log)
