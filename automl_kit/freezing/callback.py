"""``FreezingCallback``: layer freezing for users who stay with ``model.fit``."""

from __future__ import annotations

import time

import keras
import numpy as np

from automl_kit.freezing._steps import TrainSteps
from automl_kit.freezing._units import freezable_units
from automl_kit.freezing.policies import FreezingPolicy, IntelligentFreezing, TrainingPlan
from automl_kit.freezing.schedules import StepDecay


class FreezingCallback(keras.callbacks.Callback):
    """Freeze leading layers during ``model.fit`` as ``policy`` decides, epoch by epoch.

    Put it first in ``callbacks``: the others then see the ``frozen_layers`` and ``epoch_seconds``
    entries it adds to each epoch's logs (and ``History`` keeps them), and a model they save at the
    end of an epoch has every layer trainable again (frozen layers show ``trainable=False`` only
    during the epoch). ``schedule`` (e.g.
    :class:`StepDecay`) sets the learning rate per epoch and defines the stages a policy plans
    per. With ``record_rates=True`` the freezing rates of every epoch are logged (for plots),
    at the cost of accumulating gradient sums in every epoch.

    >>> model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])                                   # doctest: +SKIP
    >>> freezing = FreezingCallback(IntelligentFreezing(), StepDecay.for_epochs(30))  # doctest: +SKIP
    >>> model.fit(x, y, epochs=30, callbacks=[freezing, keras.callbacks.EarlyStopping()])  # doctest: +SKIP
    >>> freezing.log[-1]["frozen_layers"]                                      # doctest: +SKIP
    """

    def __init__(
        self,
        policy: FreezingPolicy | None = None,
        schedule: StepDecay | None = None,
        *,
        frozen_batchnorm: str = "update",
        record_rates: bool = False,
    ):
        super().__init__()
        self.policy = policy if policy is not None else IntelligentFreezing()
        if not isinstance(self.policy, FreezingPolicy):
            raise TypeError(
                f"policy must be a FreezingPolicy (e.g. IntelligentFreezing()), got {type(policy).__name__}."
            )
        self.schedule, self.frozen_batchnorm, self.record_rates = (
            schedule,
            frozen_batchnorm,
            record_rates,
        )
        self.log: list[dict] = []

    # ------------------------------------------------------------------ fit hooks
    def on_train_begin(self, logs=None):
        model = self.model
        if model.optimizer is None:
            raise ValueError(
                "compile the model (optimizer and loss) before fit with FreezingCallback."
            )
        if self.schedule is not None and not isinstance(
            model.optimizer.learning_rate, keras.Variable
        ):
            raise ValueError(
                "the optimizer has its own learning-rate schedule and FreezingCallback was given one "
                "too; pass a float learning rate to the optimizer or schedule=None."
            )
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self.units = freezable_units(model)
        self.steps = TrainSteps(
            model,
            self.units,
            frozen_batchnorm=self.frozen_batchnorm,
            scaled=self.policy.scales_learning_rates,
            statistics=self.record_rates or self.policy.uses_statistics,
        )
        epochs, steps_per_epoch = self.params.get("epochs"), self.params.get("steps")
        if self.policy.scales_learning_rates and not steps_per_epoch:
            raise ValueError(
                f"{type(self.policy).__name__} anneals per step and needs a known number of steps per "
                "epoch; pass arrays or a dataset with a known length (or steps_per_epoch)."
            )
        starts = (0,) if self.schedule is None else (0, *self.schedule.milestones)
        self.plan = TrainingPlan(
            tuple(u.name for u in self.units), int(epochs), steps_per_epoch, starts
        )
        self.policy.setup(self.plan)
        self.log = []

    def on_epoch_begin(self, epoch, logs=None):
        if self.schedule is not None:
            self.model.optimizer.learning_rate.assign(self.schedule(epoch))
        self._epoch = epoch
        self._collect = self.record_rates or self.policy.collects_statistics(epoch)
        self._prefix = int(np.clip(self.policy.frozen_prefix(epoch), 0, len(self.units) - 1))
        if self._collect:
            self.steps.reset_statistics()
        self.steps.activate(self._prefix, self._collect)
        self._started = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self.steps.unit_scales is not None:
            total = self.plan.epochs * self.plan.steps_per_epoch
            progress = (self._epoch * self.plan.steps_per_epoch + batch) / total
            self.steps.unit_scales.assign(self.policy.unit_scales(progress))

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._started
        # whole again before later callbacks run: a checkpoint must not save layers as frozen
        self.steps.set_trainable_flags(0)
        statistics = (
            self.steps.statistics(self._prefix, self.plan.steps_per_epoch or 0)
            if self._collect
            else None
        )
        self.policy.update(epoch, statistics)
        logs = logs if logs is not None else {}
        row = {
            "epoch": epoch,
            "learning_rate": float(np.asarray(self.model.optimizer.learning_rate)),
            "frozen_layers": self._prefix,
            "frozen_names": [u.name for u in self.units[: self._prefix]],
            "epoch_seconds": seconds,
            **{k: float(v) for k, v in logs.items() if np.ndim(v) == 0},
            "freezing_rates": None if statistics is None else statistics.freezing_rates.tolist(),
        }
        self.log.append(row)
        logs.update(frozen_layers=self._prefix, epoch_seconds=seconds)

    def on_train_end(self, logs=None):
        self.steps.restore()

    # ------------------------------------------------------------------ results
    @property
    def layer_names(self) -> list[str]:
        return list(self.plan.layer_names)

    def summary(self) -> dict:
        """The run's freezing record: policy decisions, units and per-epoch log (JSON-able)."""
        return {
            "policy": self.policy.summary(),
            "schedule": None if self.schedule is None else self.schedule.get_config(),
            "frozen_batchnorm": self.frozen_batchnorm,
            "layers": self.layer_names,
            "epochs": self.log,
        }
