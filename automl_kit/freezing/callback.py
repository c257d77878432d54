"""``FreezingCallback``: layer freezing for users who stay with ``model.fit``."""

from __future__ import annotations

import time

import keras
import numpy as np

from automl_kit.freezing.policies import (
    FreezingPolicy,
    GradientStatistics,
    IntelligentFreezing,
    TrainingPlan,
)
from automl_kit.training import (
    NORMALIZATION,
    GradientScales,
    GradientSums,
    StepDecay,
    TrainSteps,
    freezable_units,
)

FROZEN_BATCHNORM = ("update", "inference")


def _nan_rates(row: dict) -> dict:
    """A log row read back from JSON: freezing rates stored as null are NaN again."""
    rates = row.get("freezing_rates")
    if rates is None:
        return dict(row)
    return {**row, "freezing_rates": [float("nan") if r is None else r for r in rates]}


class FreezingCallback(keras.callbacks.Callback):
    """Freeze leading layers during ``model.fit`` as ``policy`` decides, epoch by epoch.

    Put it first in ``callbacks``: the others then see the ``frozen_layers`` and ``epoch_seconds``
    entries it adds to each epoch's logs (and ``History`` keeps them), and a model they save at the
    end of an epoch has every layer trainable again (frozen layers show ``trainable=False`` only
    during the epoch). ``schedule`` (e.g.
    :class:`StepDecay`) sets the learning rate per epoch and defines the stages a policy plans
    per (without one: stages from 50 % and 75 % of the epochs, where the thesis's step decay
    would drop, so a policy that measures per stage measures again as training converges).
    With ``record_rates=True`` the freezing rates of every epoch are logged (for plots),
    at the cost of accumulating gradient sums in every epoch.

    ``frozen_batchnorm="update"`` (default) keeps frozen BatchNormalization layers normalising with
    batch statistics and updating their moving averages, as PyTorch does for a layer whose
    parameters have ``requires_grad=False`` (the thesis' setting): only gamma/beta stop changing.
    ``"inference"`` sets ``trainable=False`` on them too, Keras's fine-tuning semantics (moving
    statistics fixed, inference-mode normalisation).

    Validation inside ``fit`` sees the whole model (every layer's regularisation penalty in
    ``val_loss``), so the logged validation numbers do not depend on which epoch first traced
    Keras's test step (a resumed run logs what the unbroken run did).

    The frozen prefix is one way to name a set of trainable variables: each epoch the callback
    asks :class:`automl_kit.training.TrainSteps` for the compiled step that trains the variables
    of units ``prefix, prefix+1, ...`` (plus any outside every unit).

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
        if frozen_batchnorm not in FROZEN_BATCHNORM:
            raise ValueError(
                f"frozen_batchnorm must be one of {FROZEN_BATCHNORM}, got {frozen_batchnorm!r}."
            )
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
        self._pending_state: dict | None = None
        self._in_epoch = False  # between on_epoch_begin and on_epoch_end of a fit

    # ------------------------------------------------------------------ config and state
    def get_config(self) -> dict:
        return {
            "policy": {"name": self.policy.name, "config": self.policy.get_config()},
            "schedule": None if self.schedule is None else self.schedule.get_config(),
            "frozen_batchnorm": self.frozen_batchnorm,
            "record_rates": self.record_rates,
        }

    @classmethod
    def from_config(cls, config: dict) -> FreezingCallback:
        """The inverse of :meth:`get_config` (the policy is looked up in the POLICIES registry)."""
        from automl_kit.registries import POLICIES

        config = dict(config)
        policy, schedule = config.pop("policy"), config.pop("schedule")
        return cls(
            POLICIES.get(policy["name"]).from_config(policy["config"]),
            None if schedule is None else StepDecay.from_config(schedule),
            **config,
        )

    def get_state(self) -> dict:
        """The run so far (policy decisions and the per-epoch log), JSON-able, for checkpoints."""
        return {"policy": self.policy.get_state(), "log": self.log}

    def set_state(self, state: dict) -> None:
        """Continue an earlier run from :meth:`get_state`; applied when ``fit`` begins."""
        self._pending_state = state

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
        self.units = freezable_units(model)
        # read while every unit trains: a frozen layer's trainable_variables are empty
        self._unit_variables = [unit.variables for unit in self.units]
        self._trainable = {
            id(layer): layer.trainable for unit in self.units for layer in unit.layers
        }
        self.sums = GradientSums() if self.record_rates or self.policy.uses_statistics else None
        self.scales = (
            GradientScales(self._unit_variables) if self.policy.scales_learning_rates else None
        )
        self.steps = TrainSteps(
            model, hooks=[hook for hook in (self.sums, self.scales) if hook is not None]
        )
        self._trainable_sets: dict[int, list] = {}
        epochs, steps_per_epoch = self.params.get("epochs"), self.params.get("steps")
        if self.policy.scales_learning_rates and not steps_per_epoch:
            raise ValueError(
                f"{type(self.policy).__name__} anneals per step and needs a known number of steps per "
                "epoch; pass arrays or a dataset with a known length (or steps_per_epoch)."
            )
        # a step schedule's drops start the policy's stages; a smooth schedule (the recipe's
        # cosine) or a constant rate gets stages where the thesis's step decay would drop
        milestones = (self.schedule or StepDecay.for_epochs(int(epochs))).milestones
        starts = (0, *milestones)
        self.plan = TrainingPlan(
            tuple(u.name for u in self.units), int(epochs), steps_per_epoch, starts
        )
        self.policy.setup(self.plan)
        self.log = []
        if self._pending_state is not None:
            self.policy.set_state(self._pending_state["policy"])
            self.log = [_nan_rates(row) for row in self._pending_state["log"]]
            self._pending_state = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.schedule is not None:
            self.model.optimizer.learning_rate.assign(self.schedule(epoch))
        self._epoch = epoch
        self._collect = self.record_rates or self.policy.collects_statistics(epoch)
        self._prefix = int(np.clip(self.policy.frozen_prefix(epoch), 0, len(self.units) - 1))
        if self.sums is not None:
            self.sums.collecting.assign(bool(self._collect))
            if self._collect:
                self.sums.reset()
        elif self._collect:
            raise ValueError(
                f"{type(self.policy).__name__} asked for gradient statistics but declares "
                "uses_statistics = False; set it to True on the policy class."
            )
        if self.steps.sync():  # the model gained variables: they train unless a unit is frozen
            self._trainable_sets.clear()
        self.set_trainable_flags(self._prefix)
        self.steps.activate(self.trainable_variables(self._prefix))
        self._in_epoch = True
        self._first_step = None
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:  # tracing a new prefix's step shows here (time accounting in the log)
            self._first_step = time.perf_counter() - self._started

    def on_train_batch_begin(self, batch, logs=None):
        if self.scales is not None:
            total = self.plan.epochs * self.plan.steps_per_epoch
            progress = (self._epoch * self.plan.steps_per_epoch + batch) / total
            self.scales.assign(self.policy.unit_scales(progress))

    def on_test_begin(self, logs=None):
        # Validation inside fit runs between the epoch's last step and on_epoch_end. It sees the
        # whole model: Keras traces the test step once and adds only *trainable* weights'
        # regularisation penalties, so tracing it while units are frozen would leave their
        # penalties out of every later val_loss (a run resumed into a frozen epoch would log
        # other val_loss values than the unbroken run it continues).
        if self._in_epoch:
            self.set_trainable_flags(0)

    def on_test_end(self, logs=None):
        if self._in_epoch:  # e.g. a callback evaluating mid-epoch: training goes on frozen
            self.set_trainable_flags(self._prefix)

    def on_epoch_end(self, epoch, logs=None):
        self._in_epoch = False
        seconds = time.perf_counter() - self._started
        # whole again before later callbacks run: a checkpoint must not save layers as frozen
        self.set_trainable_flags(0)
        statistics = (
            GradientStatistics.from_sums(
                self.sums, self._unit_variables, self._prefix, self.plan.steps_per_epoch or 0
            )
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
            # the first step includes tracing when the prefix is new; statistics: gradient sums
            "first_step_seconds": self._first_step,
            "statistics": bool(self._collect),
            **{k: float(v) for k, v in logs.items() if np.ndim(v) == 0},
            "freezing_rates": None if statistics is None else statistics.freezing_rates.tolist(),
        }
        self.log.append(row)
        logs.update(frozen_layers=self._prefix, epoch_seconds=seconds)

    def on_train_end(self, logs=None):
        self._in_epoch = False
        self.set_trainable_flags(0)
        self.steps.restore()

    # ------------------------------------------------------------------ the frozen prefix
    def trainable_variables(self, prefix: int) -> list:
        """What trains with the first ``prefix`` units frozen: everything else TrainSteps knows."""
        if prefix not in self._trainable_sets:
            frozen = {id(v) for variables in self._unit_variables[:prefix] for v in variables}
            self._trainable_sets[prefix] = [v for v in self.steps.variables if id(v) not in frozen]
        return self._trainable_sets[prefix]

    def set_trainable_flags(self, prefix: int) -> None:
        """Mirror the frozen prefix in ``layer.trainable`` (what ``model.summary()`` shows)."""
        for index, unit in enumerate(self.units):
            for layer in unit.layers:
                keep_bn_training = (
                    isinstance(layer, NORMALIZATION) and self.frozen_batchnorm == "update"
                )
                frozen = index < prefix and not keep_bn_training
                layer.trainable = False if frozen else self._trainable[id(layer)]

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
