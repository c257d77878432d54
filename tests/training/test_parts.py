"""The smaller parts of automl_kit.training: schedules, callbacks, units, batches, checkpoints."""

import json

import keras
import numpy as np
import pytest

from automl_kit.testing import check_config_round_trip
from automl_kit.training import (
    EpochBatches,
    FitnessGuard,
    StepDecay,
    freezable_units,
    read_checkpoint,
    variables_after,
)
from automl_kit.utils import CorruptRunError, RunDirectory


def test_step_decay_by_epoch_and_config_round_trip():
    schedule = StepDecay(0.1, milestones=(2, 4), factor=0.5)
    assert [schedule(e) for e in range(6)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert [schedule.stage_start(e) for e in range(6)] == [0, 0, 2, 2, 4, 4]
    check_config_round_trip(schedule)
    assert StepDecay.for_epochs(12).milestones == (6, 9)
    with pytest.raises(ValueError, match="increasing positive epochs"):
        StepDecay(0.1, milestones=(4, 2))
    from automl_kit.freezing import StepDecay as FromFreezing  # kept for older imports

    assert FromFreezing is StepDecay


def test_fitness_guard_rejects_hopeless_candidates_and_round_trips():
    check_config_round_trip(FitnessGuard(deadline=123.0, reject_below=0.3))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    guard = FitnessGuard(deadline=None, reject_below=0.3)
    guard.set_model(model)
    guard.on_epoch_end(0, {"val_accuracy": 0.2})
    assert guard.rejected and model.stop_training and not guard.timed_out
    late = FitnessGuard(deadline=0.0, reject_below=None)
    late.set_model(model)
    late.on_train_batch_end(0)
    assert late.timed_out


def test_variables_after_leaves_out_the_frozen_prefix():
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(2, 3, name="a")(inputs)
    x = keras.layers.BatchNormalization(name="a_bn")(x)
    x = keras.layers.Conv2D(2, 3, name="b")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    units = freezable_units(model)
    assert [u.name for u in units] == ["a", "b", "head"]
    everything = model.trainable_variables
    assert variables_after(units, 0, everything) == everything
    kept = variables_after(units, 1, everything)
    assert [v.path for v in kept] == [
        v.path for v in everything[4:]
    ]  # a's kernel, bias, gamma, beta
    assert variables_after(units, 3, everything) == []


def test_epoch_batches_depend_on_seed_and_epoch_only():
    x, y = np.arange(20.0)[:, None], np.arange(20)
    first = EpochBatches(x, y, 8, seed=3)
    again = EpochBatches(x, y, 8, seed=3, epoch=0)
    assert len(first) == 3 and first[2][0].shape == (4, 1)
    np.testing.assert_array_equal(first[0][1], again[0][1])
    later = EpochBatches(x, y, 8, seed=3, epoch=1)
    first.on_epoch_begin()  # Keras's first call: still epoch 0
    first.on_epoch_begin()  # the second epoch
    np.testing.assert_array_equal(first[0][1], later[0][1])
    assert not np.array_equal(later[0][1], again[0][1])
    assert sorted(np.concatenate([later[i][1] for i in range(3)])) == list(range(20))
    plain = EpochBatches(x, y, 8, seed=3, shuffle=False)
    np.testing.assert_array_equal(plain[0][1], np.arange(8))
    with pytest.raises(ValueError, match="batch_size"):
        EpochBatches(x, y, 0, seed=0)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"state": {"epo', "truncated"),
        (b"\x00\xff\x00", "not text"),
        (b"{}", "no saved state"),
        (json.dumps({"state": {"epoch": 2}, "rng": None}).encode(), "no fields"),
    ],
)
def test_corrupt_checkpoints_name_the_file(tmp_path, content, fragment):
    (tmp_path / "checkpoint.json").write_bytes(content)
    with pytest.raises(CorruptRunError, match=fragment) as caught:
        read_checkpoint(RunDirectory(tmp_path))
    assert "checkpoint.json" in str(caught.value)


def test_no_checkpoint_before_the_first_epoch(tmp_path):
    assert read_checkpoint(RunDirectory(tmp_path)) is None


def test_a_full_disk_during_a_checkpoint_is_one_clear_error(tmp_path, monkeypatch):
    import errno

    from automl_kit.training import EpochCheckpoint
    from automl_kit.utils import DiskFullError

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model, "save", full)
    saver = EpochCheckpoint(RunDirectory(tmp_path))
    saver.set_model(model)
    with pytest.raises(DiskFullError, match="no space left.*free some space, then resume"):
        saver.on_epoch_end(0, {"loss": 1.0})
    assert not (tmp_path / "checkpoint.json").exists()  # the commit point was never written
