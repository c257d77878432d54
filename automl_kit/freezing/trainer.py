"""``FreezingTrainer``: train a Keras classifier with layer freezing in one call."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from automl_kit.freezing.callback import FreezingCallback
from automl_kit.freezing.policies import FreezingPolicy
from automl_kit.training import StepDecay
from automl_kit.utils import check_classification_data, write_csv, write_json


class FreezingTrainer:
    """Keras-like ``fit`` with a freezing policy, a step-decay schedule and a per-epoch log.

    Training runs through ``model.fit`` with a :class:`FreezingCallback` first in the callback list,
    so any Keras callback (ModelCheckpoint, EarlyStopping, TensorBoard, CSVLogger) works unchanged
    and ``fit`` returns Keras's ``History``. Defaults follow the thesis: SGD with momentum 0.9 at
    0.1, decayed x0.1 at 50% and 75% of the epochs (``schedule="step"``).

    >>> trainer = FreezingTrainer(build_model("resnet20", (32, 32, 3), 10),
    ...                           policy=IntelligentFreezing())               # doctest: +SKIP
    >>> history = trainer.fit(x, y, epochs=30, validation_data=(xv, yv))      # doctest: +SKIP
    >>> trainer.save_log("runs/resnet20")                                     # doctest: +SKIP
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer | None = None,
        schedule: StepDecay | str | None = "step",
        policy: FreezingPolicy | None = None,
        *,
        loss="sparse_categorical_crossentropy",
        metrics: Sequence = ("accuracy",),
        frozen_batchnorm: str = "update",
        record_rates: bool = False,
    ):
        if schedule not in ("step", None) and not isinstance(schedule, StepDecay):
            raise ValueError(f"schedule must be 'step', None or a StepDecay, got {schedule!r}.")
        self.model = model
        self.optimizer = optimizer or keras.optimizers.SGD(0.1, momentum=0.9)
        self.schedule, self.policy = schedule, policy
        self.loss, self.metrics = loss, list(metrics)
        self.frozen_batchnorm, self.record_rates = frozen_batchnorm, record_rates
        self.callback: FreezingCallback | None = None

    def fit(
        self,
        x,
        y,
        *,
        epochs: int,
        batch_size: int = 128,
        validation_data: tuple | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose: int | str = "auto",
        shuffle: bool = True,
    ) -> keras.callbacks.History:
        """Train for ``epochs``; returns Keras's History (with ``frozen_layers`` per epoch)."""
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}.")
        rank = len(self.model.input_shape)
        x, y = check_classification_data(x, y, rank=rank)
        if validation_data is not None:
            validation_data = check_classification_data(*validation_data, rank=rank, name="x_val")
        schedule = self.schedule
        if schedule == "step":
            if not isinstance(self.optimizer.learning_rate, keras.Variable):
                raise ValueError(
                    "the optimizer has its own learning-rate schedule; pass schedule=None to keep it "
                    "or give the optimizer a float learning rate for the default step decay."
                )
            schedule = StepDecay.for_epochs(epochs, initial=float(self.optimizer.learning_rate))
        self.model.compile(optimizer=self.optimizer, loss=self.loss, metrics=self.metrics)
        self.callback = FreezingCallback(
            self.policy,
            schedule,
            frozen_batchnorm=self.frozen_batchnorm,
            record_rates=self.record_rates,
        )
        return self.model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            callbacks=[self.callback, *callbacks],
            verbose=verbose,
            shuffle=shuffle,
        )

    @property
    def log(self) -> list[dict]:
        """One row per epoch: learning rate, frozen layers, seconds, metrics, freezing rates."""
        return [] if self.callback is None else self.callback.log

    def save_log(self, directory: str | os.PathLike) -> None:
        """Write ``freezing_log.csv`` (scalars per epoch) and ``freezing.json`` (everything)."""
        if self.callback is None:
            raise ValueError("nothing to save yet: call fit first.")
        os.makedirs(directory, exist_ok=True)
        rows = [
            {k: v for k, v in row.items() if k not in ("frozen_names", "freezing_rates")}
            for row in self.log
        ]
        write_csv(os.path.join(directory, "freezing_log.csv"), rows)
        write_json(os.path.join(directory, "freezing.json"), self.callback.summary())
