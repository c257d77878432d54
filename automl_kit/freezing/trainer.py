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
    KeepBestWeights,
    Recipe,
    StepDecay,
    resumable_fit,
)
from automl_kit.training import optimizer as make_optimizer
from automl_kit.utils import (
    RunDirectory,
    check_classification_data,
    check_split_labels,
    write_csv,
    write_json,
)

RUN_COMMAND = "train"  # the owner recorded in a run directory this trainer opens


class FreezingTrainer:
    """Keras-like ``fit`` with a freezing policy, the shared training recipe and a per-epoch log.

    Training runs through ``model.fit`` with a :class:`FreezingCallback` first in the callback list,
    so any Keras callback (ModelCheckpoint, EarlyStopping, TensorBoard, CSVLogger) works unchanged
    and ``fit`` returns Keras's ``History``. By default the model trains with the toolkit's
    :class:`~automl_kit.training.Recipe` (AdamW, warm-up and cosine decay counted in steps,
    augmentation by data kind, best validation epoch kept); ``recipe=`` changes it. Passing an
    ``optimizer`` (an object, or a name at Keras's default rate) replaces the recipe's optimizer
    and schedule: with a float learning rate it then decays x0.1 at 50% and 75% of the epochs
    (``schedule="auto"``, the thesis's SGD schedule), with a Keras schedule it keeps that one.
    With an optimizer and no recipe, training is plain (batch 128, no augmentation, last weights).

    >>> trainer = FreezingTrainer(build_model("resnet20", (32, 32, 3), 10),
    ...                           policy=IntelligentFreezing())               # doctest: +SKIP
    >>> history = trainer.fit(x, y, epochs=30, validation_data=(xv, yv))      # doctest: +SKIP
    >>> trainer.save_log("runs/resnet20")                                     # doctest: +SKIP
    >>> thesis = FreezingTrainer(model, keras.optimizers.SGD(0.1, momentum=0.9),
    ...                          policy=IntelligentFreezing(mode="thesis"))   # doctest: +SKIP

    Checkpoints and resume (``automl-kit train --resume DIR`` calls exactly this)::

        trainer.fit(x, y, epochs=8, validation_data=(xv, yv), run_dir="runs/r20")
        # ... killed after epoch 5; later, with the same model, optimizer and data:
        trainer.fit(x, y, epochs=8, validation_data=(xv, yv), run_dir="runs/r20", resume=True)
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer | str | None = None,
        schedule: StepDecay | str | None = "auto",
        policy: FreezingPolicy | None = None,
        *,
        recipe: Recipe | dict | None = None,
        loss=None,
        metrics: Sequence = ("accuracy",),
        frozen_batchnorm: str = "update",
        record_rates: bool = False,
    ):
        if schedule not in ("auto", "step", None) and not isinstance(schedule, StepDecay):
            raise ValueError(
                f"schedule must be 'auto', 'step', None or a StepDecay, got {schedule!r}."
            )
        if isinstance(recipe, dict):
            recipe = Recipe.from_config(recipe)
        if optimizer is None:
            if schedule not in ("auto", None):
                raise ValueError(
                    "schedule= applies to an optimizer you pass; the recipe's optimizer has its "
                    "own schedule (Recipe(schedule=...)): drop schedule= or pass an optimizer."
                )
            recipe, schedule = recipe or Recipe(), None
        elif isinstance(optimizer, str):
            optimizer = make_optimizer(optimizer)
        if schedule == "auto":  # the thesis's step decay for an optimizer with a float rate
            schedule = "step" if isinstance(optimizer.learning_rate, keras.Variable) else None
        self.model, self.optimizer, self.recipe = model, optimizer, recipe
        self.schedule, self.policy = schedule, policy
        self.loss, self.metrics = loss, list(metrics)
        self.frozen_batchnorm, self.record_rates = frozen_batchnorm, record_rates
        self.callback: FreezingCallback | None = None

    def get_config(self) -> dict:
        """Everything but the model (JSON-able); ``from_config(config, model)`` inverts it."""
        policy, loss = self.policy, self.loss
        return {
            "optimizer": None
            if self.optimizer is None
            else keras.optimizers.serialize(self.optimizer),
            "schedule": self.schedule.get_config()
            if isinstance(self.schedule, StepDecay)
            else self.schedule,
            "policy": None
            if policy is None
            else {"name": policy.name, "config": policy.get_config()},
            "recipe": None if self.recipe is None else self.recipe.get_config(),
            "loss": loss if loss is None or isinstance(loss, str) else keras.losses.serialize(loss),
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
        optimizer, loss = config.pop("optimizer"), config.pop("loss")
        return cls(
            model,
            None if optimizer is None else keras.optimizers.deserialize(optimizer),
            StepDecay.from_config(schedule) if isinstance(schedule, dict) else schedule,
            None if policy is None else POLICIES.get(policy["name"]).from_config(policy["config"]),
            loss=loss if loss is None or isinstance(loss, str) else keras.losses.deserialize(loss),
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
        batch_size: int | None = None,
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
        ``batch_size`` defaults to the recipe's (128 without one). With a recipe, batches come
        from :class:`automl_kit.training.EpochBatches` (order and augmentation fixed by
        ``seed``; ``seed=None`` draws one) and the recipe's schedule spans ``epochs``.

        ``run_dir`` (a path, or a :class:`RunDirectory` the caller opened and owns) checkpoints
        every epoch: model and optimizer (``.keras``), the policy's state, the log, the
        History and the random state (``checkpoint.json``), through
        :func:`automl_kit.training.resumable_fit`; then a pending Ctrl-C
        (:func:`automl_kit.utils.interrupt.raise_if_stop_requested`) stops training with
        :class:`~automl_kit.utils.interrupt.Interrupted`. With ``run_dir``, batches are drawn
        by :class:`automl_kit.training.EpochBatches` (order fixed by ``seed`` and the epoch;
        ``seed=None`` draws one and saves it). ``resume=True`` continues from the last
        completed epoch with the same model architecture, optimizer, data and ``epochs``; the
        History it returns covers every epoch, and the weights at the end equal an unbroken
        run's on the CPU. A path is claimed with ``RunDirectory.claim(path, "train",
        resume=resume)`` (locked; marked finished or stopped at the end); a given
        ``RunDirectory``'s status is left to its owner.
        """
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}.")
        if batch_size is None:
            batch_size = 128 if self.recipe is None else self.recipe.batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if resume and run_dir is None:
            raise ValueError("resume=True needs run_dir: the run directory to continue.")
        rank = len(self.model.input_shape)
        x, y = check_classification_data(x, y, rank=rank)
        if validation_data is not None:
            validation_data = check_classification_data(*validation_data, rank=rank, name="x_val")
        self._check_labels(y, None if validation_data is None else validation_data[1])
        augmenter = None if self.recipe is None else self.recipe.augmenter(x.shape[1:])
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
        steps = -(-len(x) // batch_size)
        optimizer = self.optimizer or self.recipe.build_optimizer(steps * epochs)
        loss = self.loss
        if loss is None:
            loss = (
                self.recipe.loss_for(self.model)
                if self.recipe
                else "sparse_categorical_crossentropy"
            )
        self.model.compile(optimizer=optimizer, loss=loss, metrics=self.metrics)
        self.callback = FreezingCallback(
            self.policy,
            schedule,
            frozen_batchnorm=self.frozen_batchnorm,
            record_rates=self.record_rates,
        )
        # the best epoch needs validation scores; without them the last weights are kept
        keep = (
            self.recipe is not None and self.recipe.keep == "best" and validation_data is not None
        )
        if run_dir is None:
            extra = [KeepBestWeights()] if keep else []
            if self.recipe is None:
                return self.model.fit(
                    x,
                    y,
                    epochs=epochs,
                    batch_size=batch_size,
                    validation_data=validation_data,
                    callbacks=[self.callback, *callbacks, *extra],
                    verbose=verbose,
                    shuffle=shuffle,
                )
            seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)
            batches = EpochBatches(
                x, y, batch_size, seed=seed, shuffle=shuffle, augmenter=augmenter
            )
            return self.model.fit(
                batches,
                epochs=epochs,
                validation_data=validation_data,
                callbacks=[self.callback, *callbacks, *extra],
                verbose=verbose,
                shuffle=False,  # EpochBatches shuffles, from the seed
            )
        with RunDirectory.claim(run_dir, RUN_COMMAND, resume=resume) as run:
            return self._fit_with_checkpoints(
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
                augmenter,
                KeepBestWeights(path=run.path("best.keras")) if keep else None,
            )

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
        augmenter,
        keeper,
    ) -> keras.callbacks.History:
        config = {
            "shuffle": bool(shuffle),
            "freezing": self.callback.get_config(),
            "recipe": None if self.recipe is None else self.recipe.get_config(),
        }
        if seed is None:  # drawn once; a resumed run replaces it with its saved seed
            seed = int(np.random.default_rng().integers(2**31))

        def get_state() -> dict:
            best = {} if keeper is None else {"best": keeper.get_state()}
            return {"freezing": self.callback.get_state(), **best}

        def set_state(state: dict) -> None:
            self.callback.set_state(state["freezing"])
            if keeper is not None:
                keeper.set_state(state.get("best", {}))

        history, start = resumable_fit(
            self.model,
            x,
            y,
            run,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            config=config,
            resume=resume,
            get_state=get_state,
            set_state=set_state,
            # the keeper saves the best weights before the checkpoint commits the epoch
            callbacks=[self.callback, *callbacks, *([keeper] if keeper else [])],
            validation_data=validation_data,
            verbose=verbose,
            shuffle=shuffle,
            augmenter=augmenter,
        )
        if start >= epochs:  # finished before: nothing was trained, the saved History
            # begin and end fit with no epoch between: units, plan, policy state and log restored
            self.callback.set_model(self.model)
            self.callback.set_params({"epochs": epochs, "steps": -(-len(x) // batch_size)})
            self.callback.on_train_begin()
            self.callback.on_train_end()
            if keeper is not None:  # the best epoch's weights, as the unbroken run ended
                keeper.set_model(self.model)
                keeper.on_train_end()
        else:
            self.save_log(run.root)
        return _history(self.model, history)

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
        write_freezing_log(self.callback.summary(), directory)


def write_freezing_log(summary: dict, directory: str | os.PathLike) -> None:
    """``freezing_log.csv`` (the scalars of ``summary``'s epochs) and ``freezing.json``
    (``summary``, a :meth:`FreezingCallback.summary`) in ``directory``."""
    os.makedirs(directory, exist_ok=True)
    rows = [
        {k: v for k, v in row.items() if k not in ("frozen_names", "freezing_rates")}
        for row in summary["epochs"]
    ]
    write_csv(os.path.join(directory, "freezing_log.csv"), rows)
    write_json(os.path.join(directory, "freezing.json"), summary)


def _history(model: keras.Model, history: dict) -> keras.callbacks.History:
    """A Keras History over every epoch of a checkpointed (maybe resumed) run."""
    record = keras.callbacks.History()
    record.set_model(model)
    record.history = {key: list(values) for key, values in history.items()}
    record.epoch = list(range(len(next(iter(history.values()), []))))
    return record
