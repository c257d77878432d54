"""A stopped growing run, resumed, ends exactly as an unbroken one (weights, schedule, curve)."""

import json

import keras
import numpy as np
import pytest

from automl_kit.capacity.experiments import run_sine
from automl_kit.utils.interrupt import Interrupted, graceful_interrupt, request_stop
from automl_kit.utils.rundir import RunDirectory

TINY = {"width": 12, "chunks": 3, "epochs": 4, "n_train": 96, "patience": 2, "interval": 1}


class StopAfter(keras.callbacks.Callback):
    """Ctrl-C at the end of an epoch, as the first SIGINT does: the run stops after saving."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            request_stop()


def _sine(folder, *, resume=False, callbacks=(), method="net2net"):
    with RunDirectory.open(folder, "grow", resume=resume) as run:
        return run_sine(method, 3, **TINY, run_dir=run, resume=resume, callbacks=callbacks)


def test_a_resumed_run_equals_an_unbroken_one(tmp_path):
    unbroken = _sine(tmp_path / "unbroken")
    assert len(unbroken["growth_steps"]) >= 1, "the tiny run must grow for this test to mean much"
    folder = tmp_path / "run"
    with graceful_interrupt(), pytest.raises(Interrupted, match="after epoch 2"):
        _sine(folder, callbacks=[StopAfter(1)])
    saved = json.loads((folder / "checkpoint.json").read_text())["state"]
    assert saved["epoch"] == 2 and len(saved["state"]["caller"]["curve"]) == 2
    resumed = _sine(folder, resume=True)
    assert resumed["curve"] == pytest.approx(unbroken["curve"], rel=1e-6, abs=1e-9)
    assert resumed["schedule"] == unbroken["schedule"]
    assert (
        resumed["controller"].get_state()["widths"] == unbroken["controller"].get_state()["widths"]
    )
    for ours, theirs in zip(resumed["model"].weights, unbroken["model"].weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


def test_resume_with_other_settings_is_refused(tmp_path):
    folder = tmp_path / "run"
    with graceful_interrupt(), pytest.raises(Interrupted):
        _sine(folder, callbacks=[StopAfter(0)], method="adaptive")
    with pytest.raises(ValueError, match="cannot resume .*method 'adaptive' -> 'net2net'"):
        _sine(folder, resume=True, method="net2net")
