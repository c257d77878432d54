"""``FreezingTrainer``: train a Keras classifier with layer freezing in one call."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import keras
import numpy as np

from automl_kit.freezing.callback import FreezingCallback
from automl_kit.freezing.policies import FreezingPolicy
from automl_kit.training import (
    EpochBatches,
    EpochCheckpoint,
    StepDecay,
    read_checkpoint,
    restore_checkpoint,
)
from automl_kit.training import optimizer as make_optimizer
from automl_kit.utils import (
    RunDirectory,
    check_classification_data,
    check_split_labels,
    write_csv,
    write_json,
)
from automl_kit.utils.interrupt import Interrupted

RUN_COMMAND = "train"  # the owner recorded in a run directory this trainer opens


class FreezingTrainer:
    """Keras-like ``fit`` with a freezing policy, a step-decay schedule and a per-epoch log.

    Training runs through ``model.fit`` with a :class:`FreezingCallback` first in the callback list,
    so any Keras callback (ModelCheckpoint, EarlyStopping, TensorBoard, CSVLogger) works unchanged
    and ``fit`` returns Keras's ``History``. Defaults follow the thesis: SGD with momentum 0.9 at
    0.1, decayed x0.1 at 50% and 75% of the epochs (``schedule="step"``). ``optimizer`` may be
    a name (``"nadam"``, :func:`automl_kit.training.optimizer`) at Keras's default rate; pass an
    optimizer object for another rate or a Keras schedule (then ``schedule=None``).

    >>> trainer = FreezingTrainer(build_model("resnet20", (32, 32, 3), 10),
    ...                           policy=IntelligentFreezing())               # doctest: +SKIP
    >>> history = trainer.fit(x, y, epochs=30, validation_data=(xv, yv))      # doctest: +SKIP
    >>> trainer.save_log("runs/resnet20")                                     # doctest: +SKIP

    Checkpoints and resume (``automl-kit train --resume DIR`` calls exactly this)::

        trainer.fit(x, y, epochs=8, validation_data=(xv, yv), run_dir="runs/r20")
        # ... killed after epoch 5; later, with the same model, optimizer and data:
        trainer.fit(x, y, epochs=8, validation_data=(xv, yv), run_dir="runs/r20", resume=True)
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer | str | None = None,
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
        if isinstance(optimizer, str):
            optimizer = make_optimizer(optimizer)
        self.optimizer = optimizer or keras.optimizers.SGD(0.1, momentum=0.9)
        self.schedule, self.policy = schedule, policy
        self.loss, self.metrics = loss, list(metrics)
        self.frozen_batchnorm, self.record_rates = frozen_batchnorm, record_rates
        self.callback: FreezingCallback | None = None

    def get_config(self) -> dict:
        """Everything but the model (JSON-able); ``from_config(config, model)`` inverts it."""
        policy = self.policy
        return {
            "optimizer": keras.optimizers.serialize(self.optimizer),
            "schedule": self.schedule.get_config()
            if isinstance(self.schedule, StepDecay)
            else self.schedule,
            "policy": None
            if policy is None
            else {"name": policy.name, "config": policy.get_config()},
            "loss": self.loss if isinstance(self.loss, str) else keras.losses.serialize(self.loss),
            "metrics": [
                m if isinstance(m, str) else keras.metrics.serialize(m) for m in self.metrics
            ],
            "frozen_batchnorm": self.frozen_batchnorm,
            "record_rates": self.record_rates,
        }

    @classmethod
    def from_config(cls, config: dict, model: keras.Model) -> FreezingTrainer:
        """A trainer for ``model`` with the settings of :meth:`get_config`."""
        from automl_kit.registries import POLICIES

        config = copy.deepcopy(config)  # Keras's deserialize edits the dicts it is given
        schedule, policy = config.pop("schedule"), config.pop("policy")
        loss = config.pop("loss")
        return cls(
            model,
            keras.optimizers.deserialize(config.pop("optimizer")),
            StepDecay.from_config(schedule) if isinstance(schedule, dict) else schedule,
            None if policy is None else POLICIES.get(policy["name"]).from_config(policy["config"]),
            loss=loss if isinstance(loss, str) else keras.losses.deserialize(loss),
            metrics=[
                m if isinstance(m, str) else keras.metrics.deserialize(m)
                for m in config.pop("metrics")
            ],
            **config,
        )

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
        run_dir: str | os.PathLike | RunDirectory | None = None,
        resume: bool = False,
        seed: int | None = None,
    ) -> keras.callbacks.History:
        """Train for ``epochs``; returns Keras's History (with ``frozen_layers`` per epoch).

        Labels are checked against the model's output size before any training.

        ``run_dir`` (a path, or a :class:`RunDirectory` the caller opened and owns) checkpoints
        every epoch: model and optimizer (``.keras``), the policy's state, the log, the
        History and the random state (``checkpoint.json``), through
        :class:`automl_kit.training.EpochCheckpoint`; then a pending Ctrl-C
        (:func:`automl_kit.utils.interrupt.raise_if_stop_requested`) stops training with
        :class:`~automl_kit.utils.interrupt.Interrupted`. With ``run_dir``, batches are drawn
        by :class:`automl_kit.training.EpochBatches` (order fixed by ``seed`` and the epoch;
        ``seed=None`` draws one and saves it). ``resume=True`` continues from the last
        completed epoch with the same model architecture, optimizer, data and ``epochs``; the
        History it returns covers every epoch, and the weights at the end equal an unbroken
        run's on the CPU. A path is opened with ``RunDirectory.open(path, "train",
        resume=resume)`` (locked; marked finished or stopped at the end); a given
        ``RunDirectory``'s status is left to its owner.
        """
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if resume and run_dir is None:
            raise ValueError("resume=True needs run_dir: the run directory to continue.")
        rank = len(self.model.input_shape)
        x, y = check_classification_data(x, y, rank=rank)
        if validation_data is not None:
            validation_data = check_classification_data(*validation_data, rank=rank, name="x_val")
        self._check_labels(y, None if validation_data is None else validation_data[1])
        schedule = self.schedule
        if schedule == "step":
            if not isinstance(self.optimizer.learning_rate, keras.Variable):
                raise ValueError(
                    "the optimizer has its own learning-rate schedule; pass schedule=None to keep it "
                    "or give the optimizer a float learning rate for the default step decay."
                )
            # np.asarray: under a distribution strategy the rate is a MirroredVariable (no float())
            initial = float(np.asarray(self.optimizer.learning_rate))
            schedule = StepDecay.for_epochs(epochs, initial=initial)
        self.model.compile(optimizer=self.optimizer, loss=self.loss, metrics=self.metrics)
        self.callback = FreezingCallback(
            self.policy,
            schedule,
            frozen_batchnorm=self.frozen_batchnorm,
            record_rates=self.record_rates,
        )
        if run_dir is None:
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
        owned = not isinstance(run_dir, RunDirectory)
        run = RunDirectory.open(run_dir, RUN_COMMAND, resume=resume) if owned else run_dir
        try:
            history = self._fit_with_checkpoints(
                run,
                x,
                y,
                epochs,
                batch_size,
                validation_data,
                callbacks,
                verbose,
                shuffle,
                seed,
                resume,
            )
            if owned:
                run.mark_finished()
            return history
        except Interrupted:
            if owned:
                run.mark_stopped()
            raise
        finally:
            if owned:
                run.close()

    def _check_labels(self, y, y_val) -> None:
        """Labels against the model's output size, before a TF error mid-epoch could say it."""
        outputs = self.model.output_shape[-1]
        num_classes = 2 if outputs == 1 else outputs  # one sigmoid unit: labels 0 and 1
        high = int(max(y.max(), -1 if y_val is None else y_val.max()))
        if high >= num_classes:
            raise ValueError(
                f"labels go up to {high} but the model outputs {outputs} class scores "
                f"(labels 0..{num_classes - 1}); build the model with num_classes={high + 1}, "
                "or remap the labels to 0..K-1."
            )
        check_split_labels(y, y_val, num_classes=num_classes)

    def _fit_with_checkpoints(
        self,
        run,
        x,
        y,
        epochs,
        batch_size,
        validation_data,
        callbacks,
        verbose,
        shuffle,
        seed,
        resume,
    ) -> keras.callbacks.History:
        config = {
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "samples": int(len(x)),
            "shuffle": bool(shuffle),
            "freezing": self.callback.get_config(),
        }
        checkpoint = read_checkpoint(run, config) if resume else None
        start, history = 0, {}
        if checkpoint is not None:
            seed = checkpoint["state"]["seed"]
            start, history = int(checkpoint["epoch"]), checkpoint["history"]
            restore_checkpoint(self.model, run, checkpoint)
            self.callback.set_state(checkpoint["state"]["freezing"])
        elif seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        seed = int(seed)
        saver = EpochCheckpoint(
            run,
            lambda: {"seed": seed, "freezing": self.callback.get_state()},
            history=history,
            config=config,
        )
        if start >= epochs:  # finished before: nothing to train, the saved History
            # begin and end fit with no epoch between: units, plan, policy state and log restored
            self.callback.set_model(self.model)
            self.callback.set_params({"epochs": epochs, "steps": -(-len(x) // batch_size)})
            self.callback.on_train_begin()
            self.callback.on_train_end()
            return _history(self.model, history)
        batches = EpochBatches(x, y, batch_size, seed=seed, epoch=start, shuffle=shuffle)
        self.model.fit(
            batches,
            epochs=epochs,
            initial_epoch=start,
            validation_data=validation_data,
            callbacks=[self.callback, *callbacks, saver],
            verbose=verbose,
            shuffle=False,  # EpochBatches shuffles; Keras's batch shuffle would not resume
        )
        self.save_log(run.root)
        return _history(self.model, saver.history)

    @property
    def log(self) -> list[dict]:
        """One row per epoch: learning rate, frozen layers, seconds, metrics, freezing rates."""
        return [] if self.callback is None else self.callback.log

    def summary(self) -> dict:
        """The run's freezing record (JSON-able): policy and its decisions, units, per-epoch log."""
        if self.callback is None:
            raise ValueError("nothing to summarise yet: call fit first.")
        return self.callback.summary()

    def save(self, run_dir: str | os.PathLike) -> None:
        """Write the run's record into ``run_dir`` (see :meth:`save_log`)."""
        self.save_log(run_dir)

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


def _history(model: keras.Model, history: dict) -> keras.callbacks.History:
    """A Keras History over every epoch of a checkpointed (maybe resumed) run."""
    record = keras.callbacks.History()
    record.set_model(model)
    record.history = {key: list(values) for key, values in history.items()}
    record.epoch = list(range(len(next(iter(history.values()), []))))
    return record
