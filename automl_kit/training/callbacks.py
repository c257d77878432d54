"""Keras callbacks shared by every capability that trains candidates or models."""

from __future__ import annotations

import time

import keras

from automl_kit.utils.interrupt import raise_if_stop_requested


class FitnessGuard(keras.callbacks.Callback):
    """Stops training at the deadline, or after epoch 1 when the candidate is hopeless.

    ``deadline`` is an absolute ``time.time()``; ``reject_below`` a first-epoch validation
    accuracy under which training stops (``rejected`` is then set). ``timed_out`` tells that the
    deadline stopped it.

    >>> guard = FitnessGuard(deadline=None, reject_below=0.2)
    >>> guard.rejected, guard.timed_out
    (False, False)
    """

    def __init__(self, deadline: float | None, reject_below: float | None):
        super().__init__()
        self.deadline, self.reject_below = deadline, reject_below
        self.rejected = self.timed_out = False

    def _check_deadline(self):
        if self.deadline is not None and time.time() > self.deadline:
            self.timed_out = True
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._check_deadline()

    def on_epoch_end(self, epoch, logs=None):
        accuracy = (logs or {}).get("val_accuracy", 1.0)
        if epoch == 0 and self.reject_below is not None and accuracy < self.reject_below:
            self.rejected = True
            self.model.stop_training = True
        self._check_deadline()

    def get_config(self) -> dict:
        return {"deadline": self.deadline, "reject_below": self.reject_below}

    @classmethod
    def from_config(cls, config: dict) -> FitnessGuard:
        return cls(**config)


class StopAtSafePoint(keras.callbacks.Callback):
    """Raise :class:`~automl_kit.utils.interrupt.Interrupted` at the end of the epoch in which
    Ctrl-C was pressed (inside ``graceful_interrupt()``), so a job's ``fit`` stops there.

    >>> StopAtSafePoint("stage 1").where
    'stage 1'
    """

    def __init__(self, where: str = ""):
        super().__init__()
        self.where = where

    def on_epoch_end(self, epoch, logs=None):
        raise_if_stop_requested(f"after {self.where + ' ' if self.where else ''}epoch {epoch + 1}")
