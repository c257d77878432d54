"""Optimizers, learning-rate schedules and activations by name, for every toolkit trainer.

The lecture decks (seed 002, "learning rate decay"; seed 003, "Optimizers") name the
optimizers SGD+momentum, RMSprop, Adam, Adagrad, Adadelta, Adamax, Nadam and four decays:

* ``inverse_time``: alpha = alpha0 / (1 + decay_rate * epoch)  (Keras ``InverseTimeDecay``)
* ``exponential``: alpha = alpha0 * exp(-decay_rate * epoch)  (Keras ``ExponentialDecay``
  with ``decay_rate = exp(-decay_rate)`` per epoch)
* ``inverse_sqrt``: alpha = k * alpha0 / sqrt(epoch)  (no Keras class: :class:`InverseSqrtDecay`;
  epochs count from 1, as in the deck's formula, so the first epoch runs at ``k * alpha0``)
* ``staircase``: alpha0 * factor ** floor(epoch / every), "decreasing a learning rate after a
  given number of epochs by half" (Keras ``ExponentialDecay(staircase=True)``)

Keras schedules count optimizer steps; ``steps_per_epoch`` turns the decks' epochs into steps
(the decay is continuous within an epoch unless ``staircase=True``).

>>> sched = schedule("inverse_time", 0.1, decay_rate=1.0, steps_per_epoch=10)
>>> [round(float(sched(10 * e)), 4) for e in (0, 1, 3)]
[0.1, 0.05, 0.025]
>>> type(optimizer("nadam", 1e-3)).__name__
'Nadam'
"""

from __future__ import annotations

import math

import keras

from automl_kit.registries import ACTIVATION_NAMES, OPTIMIZER_NAMES, SCHEDULE_NAMES

# name -> (Keras class, defaults): SGD with the decks' momentum 0.9 (seed 003: "use a high
# momentum value of 0.9 or 0.99"); the rest with Keras's defaults.
_OPTIMIZERS = {
    "sgd": (keras.optimizers.SGD, {"momentum": 0.9}),
    "momentum": (keras.optimizers.SGD, {"momentum": 0.9}),
    "nesterov": (keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": (keras.optimizers.RMSprop, {}),
    "adam": (keras.optimizers.Adam, {}),
    "adamw": (keras.optimizers.AdamW, {}),  # decoupled weight decay (Loshchilov & Hutter 2019)
    "adagrad": (keras.optimizers.Adagrad, {}),
    "adadelta": (keras.optimizers.Adadelta, {}),
    "adamax": (keras.optimizers.Adamax, {}),
    "nadam": (keras.optimizers.Nadam, {}),
}
OPTIMIZERS = OPTIMIZER_NAMES  # the CLI's choices, TF-free in automl_kit.registries
SCHEDULES = SCHEDULE_NAMES
ACTIVATIONS = ACTIVATION_NAMES


def _unknown(kind: str, name: str, choices) -> ValueError:
    return ValueError(f"unknown {kind} '{name}'; choose one of: {', '.join(choices)}")


def optimizer(name: str, learning_rate=None, **kwargs) -> keras.optimizers.Optimizer:
    """A Keras optimizer by name (``sgd`` = SGD with momentum 0.9); ``learning_rate`` may be a
    float or a schedule (:func:`schedule`); other keywords go to the Keras class."""
    key = str(name).lower()
    if key not in _OPTIMIZERS:
        raise _unknown("optimizer", name, OPTIMIZERS)
    cls, defaults = _OPTIMIZERS[key]
    options = {**defaults, **kwargs}
    if learning_rate is not None:
        if isinstance(learning_rate, (int, float)) and not (
            math.isfinite(learning_rate) and learning_rate > 0
        ):
            raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate}.")
        options["learning_rate"] = learning_rate
    return cls(**options)


@keras.saving.register_keras_serializable(package="automl_kit")
class InverseSqrtDecay(keras.optimizers.schedules.LearningRateSchedule):
    """alpha = k * alpha0 / sqrt(epoch), epoch = 1 + step // steps_per_epoch (seed 002)."""

    def __init__(self, initial_learning_rate: float, k: float = 1.0, steps_per_epoch: int = 1):
        if initial_learning_rate <= 0 or k <= 0 or steps_per_epoch < 1:
            raise ValueError(
                "initial_learning_rate and k must be > 0 and steps_per_epoch >= 1, got "
                f"{initial_learning_rate}, {k}, {steps_per_epoch}."
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.k = float(k)
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step):
        epoch = 1.0 + keras.ops.floor(keras.ops.cast(step, "float32") / self.steps_per_epoch)
        return self.k * self.initial_learning_rate / keras.ops.sqrt(epoch)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "k": self.k,
            "steps_per_epoch": self.steps_per_epoch,
        }


def schedule(
    name: str,
    initial_learning_rate: float,
    *,
    steps_per_epoch: int = 1,
    decay_rate: float = 0.1,
    k: float = 1.0,
    every: int = 10,
    factor: float = 0.5,
):
    """A learning-rate schedule of the decks by name (see the module docstring); ``constant``
    returns ``initial_learning_rate`` itself."""
    key = str(name).lower()
    if key not in SCHEDULES:
        raise _unknown("schedule", name, SCHEDULES)
    if not (math.isfinite(initial_learning_rate) and initial_learning_rate > 0):
        raise ValueError(f"initial_learning_rate must be > 0, got {initial_learning_rate}.")
    if steps_per_epoch < 1:
        raise ValueError(
            f"steps_per_epoch must be >= 1 (batches per epoch), got {steps_per_epoch}."
        )
    schedules = keras.optimizers.schedules
    if key == "constant":
        return float(initial_learning_rate)
    if key == "inverse_sqrt":
        return InverseSqrtDecay(initial_learning_rate, k, steps_per_epoch)
    if key == "staircase":
        if every < 1 or not 0 < factor < 1:
            raise ValueError(
                f"staircase needs every >= 1 epochs and 0 < factor < 1, got {every}, {factor}."
            )
        return schedules.ExponentialDecay(
            initial_learning_rate, steps_per_epoch * every, factor, staircase=True
        )
    if decay_rate <= 0:
        raise ValueError(f"decay_rate must be > 0, got {decay_rate}.")
    if key == "inverse_time":
        return schedules.InverseTimeDecay(initial_learning_rate, steps_per_epoch, decay_rate)
    return schedules.ExponentialDecay(initial_learning_rate, steps_per_epoch, math.exp(-decay_rate))


def activation(name: str):
    """A Keras activation function by name (``elu``, ``selu``, ``leaky_relu`` ...)."""
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise _unknown("activation", name, ACTIVATIONS)
    return keras.activations.get(key)
