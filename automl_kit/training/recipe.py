"""One training recipe for every model the toolkit trains (issue "Models worth the budget").

A :class:`Recipe` says *how* a model is trained, apart from *what* the model is and *how long*
it trains: the optimizer by name with decoupled weight decay, a learning-rate schedule counted
in optimizer steps with a linear warm-up (cosine, linear one-cycle, step or constant after it),
label smoothing, the batch size, image augmentation that runs only in training, and which
weights are kept at the end (the best validation epoch, an exponential moving average, or the
last). ``fit`` trains for a given number of epochs; the schedule always spans exactly those
epochs, so a 2-epoch fit is a short *full* schedule, not the start of a long one.

The schedule: ``w`` warm-up steps rise linearly to ``learning_rate``; the remaining steps decay
by ``t`` in [0, 1] (fraction of the decay done):

* ``cosine``:   lr = peak * (1 + cos(pi t)) / 2      (Loshchilov & Hutter, SGDR)
* ``onecycle``: lr = peak * (1 - t)                  (Smith's one-cycle, learning-rate part)
* ``step``:     lr = peak * (1, 0.1, 0.01) at t < 0.5, < 0.75, else
* ``constant``: lr = peak

>>> recipe = Recipe(learning_rate=0.1, warmup=0.25)
>>> sched = recipe.learning_rate_schedule(total_steps=8)
>>> [round(float(sched(s)), 4) for s in (0, 1, 2, 4, 7)]
[0.05, 0.1, 0.1, 0.0655, 0.0]
>>> Recipe.from_config(recipe.get_config()) == recipe
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import keras
import numpy as np

from automl_kit.registries import AUGMENTATION_NAMES as AUGMENTATIONS
from automl_kit.registries import RECIPE_KEEP_NAMES as KEEP
from automl_kit.registries import RECIPE_SCHEDULE_NAMES as SCHEDULE_SHAPES


@keras.saving.register_keras_serializable(package="automl_kit")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps`` to ``peak``, then ``shape`` down to the last step."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, shape: str = "cosine"):
        if shape not in SCHEDULE_SHAPES:
            raise ValueError(
                f"unknown schedule '{shape}'; choose one of: {', '.join(SCHEDULE_SHAPES)}"
            )
        self.peak, self.total_steps = float(peak), int(total_steps)
        self.warmup_steps, self.shape = int(warmup_steps), shape

    def __call__(self, step):
        from keras import ops

        step = ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(self.warmup_steps, 1)
        # the last step (total - 1) ends the decay at t = 1
        t = ops.clip(
            (step - self.warmup_steps) / max(self.total_steps - 1 - self.warmup_steps, 1), 0.0, 1.0
        )
        if self.shape == "cosine":
            after = self.peak * 0.5 * (1.0 + ops.cos(math.pi * t))
        elif self.shape == "onecycle":
            after = self.peak * (1.0 - t)
        elif self.shape == "step":
            after = self.peak * ops.where(t < 0.5, 1.0, ops.where(t < 0.75, 0.1, 0.01))
        else:
            after = self.peak * ops.ones_like(t)
        return ops.where(step < self.warmup_steps, warm, after)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "shape": self.shape,
        }


@keras.saving.register_keras_serializable(package="automl_kit")
class SparseLabelSmoothing(keras.losses.Loss):
    """Cross-entropy with label smoothing on integer labels (Szegedy et al. 2016, Eq. in Sec. 7):
    the target is ``(1 - eps) * one_hot(y) + eps / K``. Keras's sparse loss has no smoothing, and
    one-hot labels would make ``model.evaluate(x, y)`` on integer labels fail afterwards."""

    def __init__(self, label_smoothing: float = 0.1, from_logits: bool = False, **kwargs):
        kwargs.setdefault("name", "sparse_label_smoothing")
        super().__init__(**kwargs)
        self.label_smoothing, self.from_logits = float(label_smoothing), bool(from_logits)

    def call(self, y_true, y_pred):
        from keras import ops

        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        target = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "label_smoothing": self.label_smoothing,
            "from_logits": self.from_logits,
        }


class KeepBestWeights(keras.callbacks.Callback):
    """Restore, when training ends, the weights of the epoch with the best ``monitor``
    (training runs its whole schedule: unlike ``EarlyStopping`` nothing stops early).

    With ``path`` (a ``.keras`` file) the best weights are also written there, so that a run
    resumed from a checkpoint (:meth:`get_state` saved with it, :meth:`set_state` on resume)
    still ends with the best epoch's weights.
    """

    def __init__(self, monitor: str = "val_accuracy", path=None):
        super().__init__()
        self.monitor, self.path = monitor, path
        self.best, self.best_epoch, self._weights = -math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best, self.best_epoch = float(value), epoch
            self._weights = self.model.get_weights()
            if self.path is not None:
                self.model.save(self.path)

    def on_train_end(self, logs=None):
        if self._weights is None and self.best_epoch is not None and self.path is not None:
            self._weights = keras.models.load_model(self.path).get_weights()  # resumed run
        if self._weights is not None:
            self.model.set_weights(self._weights)

    def get_state(self) -> dict:
        """The best value and epoch so far (JSON-able; the weights live at ``path``)."""
        return {"best": None if self.best_epoch is None else self.best, "epoch": self.best_epoch}

    def set_state(self, state: dict) -> None:
        if state.get("epoch") is not None:
            self.best, self.best_epoch = float(state["best"]), int(state["epoch"])


def augment_batch(augmenter: keras.Sequential, x, seed: int) -> np.ndarray:
    """``augmenter``'s random layers applied to the batch ``x``, drawn from ``seed`` alone (no
    generator state), so that a resumed run augments each batch as an unbroken run did."""
    for layer in augmenter.layers:
        transformation = layer.get_random_transformation(x, training=True, seed=int(seed))
        x = layer.transform_images(x, transformation, training=True)
    return np.asarray(x)


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; see the module docstring for the schedule's equations.

    ``augment="auto"`` flips and translates natural (3-channel) images and leaves grayscale
    images and tables alone (a flipped digit is another digit); ``keep="best"`` restores the
    best validation epoch, ``"ema"`` uses the optimizer's moving average of the weights
    (momentum 0.99), ``"last"`` the final weights.
    """

    optimizer: str = "adamw"
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup: float = 0.1
    label_smoothing: float = 0.0
    batch_size: int = 64
    augment: str = "auto"
    translate: float = 0.1
    keep: str = "best"

    def __post_init__(self):
        from automl_kit.training.optimizers import OPTIMIZERS

        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer '{self.optimizer}' is none of: {', '.join(OPTIMIZERS)}"),
            (0 < self.learning_rate < math.inf, f"learning_rate must be a finite number > 0, got {self.learning_rate}"),
            (0 <= self.weight_decay < 1, f"weight_decay must be in [0, 1), got {self.weight_decay}"),
            (self.schedule in SCHEDULE_SHAPES, f"schedule '{self.schedule}' is none of: {', '.join(SCHEDULE_SHAPES)}"),
            (0 <= self.warmup < 1, f"warmup is a fraction of the steps in [0, 1), got {self.warmup}"),
            (0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing}"),
            (int(self.batch_size) == self.batch_size and self.batch_size >= 1, f"batch_size must be a whole number >= 1, got {self.batch_size}"),
            (self.augment in AUGMENTATIONS, f"augment '{self.augment}' is none of: {', '.join(AUGMENTATIONS)}"),
            (0 <= self.translate < 1, f"translate is a fraction of the image size in [0, 1), got {self.translate}"),
            (self.keep in KEEP, f"keep '{self.keep}' is none of: {', '.join(KEEP)}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message + ".")

    # ---- configuration -------------------------------------------------------------------
    def get_config(self) -> dict:
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict) -> Recipe:
        return cls(**config)

    def with_options(self, **changes) -> Recipe:
        """A copy with some fields changed (checked like a new recipe)."""
        return replace(self, **changes)

    # ---- parts ---------------------------------------------------------------------------
    def learning_rate_schedule(self, total_steps: int) -> WarmupSchedule:
        """The schedule over ``total_steps`` optimizer steps (warm-up included)."""
        total = max(int(total_steps), 1)
        return WarmupSchedule(self.learning_rate, total, int(self.warmup * total), self.schedule)

    def build_optimizer(self, total_steps: int) -> keras.optimizers.Optimizer:
        """The optimizer with the schedule; Keras applies weight decay decoupled (as AdamW)
        for every optimizer name."""
        from automl_kit.training.optimizers import optimizer

        return optimizer(
            self.optimizer,
            self.learning_rate_schedule(total_steps),
            weight_decay=self.weight_decay,
            use_ema=self.keep == "ema",
            ema_momentum=0.99,
        )

    def augmentation_for(self, input_shape) -> str:
        """The augmentation ``augment`` means for samples of ``input_shape`` (no batch axis)."""
        if self.augment != "auto":
            return self.augment
        is_colour_image = len(input_shape) == 3 and input_shape[-1] == 3
        return "flip_translate" if is_colour_image else "none"

    def augmenter(self, input_shape, seed: int = 0) -> keras.Sequential | None:
        """Keras preprocessing layers for training batches, or None (tables, ``none``)."""
        kind = self.augmentation_for(input_shape)
        if kind == "none":
            return None
        if len(input_shape) != 3:
            raise ValueError(
                f"augment='{kind}' transforms images (height, width, channels), but the samples "
                f"have shape {tuple(input_shape)}; use augment='none' (or 'auto') for tables."
            )
        steps = []
        if kind == "flip_translate":
            steps.append(keras.layers.RandomFlip("horizontal", seed=seed))
        steps.append(
            keras.layers.RandomTranslation(
                self.translate, self.translate, fill_mode="reflect", seed=seed + 1
            )
        )
        return keras.Sequential(steps, name="augmentation")

    def loss_for(self, model: keras.Model) -> keras.losses.Loss:
        """Cross-entropy on integer labels, smoothed by ``label_smoothing``, from logits when
        ``model`` ends without a softmax/sigmoid."""
        from automl_kit.utils.models import outputs_probabilities

        try:
            from_logits = not outputs_probabilities(model)
        except ValueError:  # no Dense head to read: a model's output counts as probabilities
            from_logits = False
        if self.label_smoothing:
            return SparseLabelSmoothing(self.label_smoothing, from_logits=from_logits)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)

    def compile(self, model: keras.Model, total_steps: int, metrics=("accuracy",)) -> None:
        """Compile ``model`` with this recipe's optimizer and loss for ``total_steps`` steps;
        labels stay integers, smoothed or not."""
        model.compile(
            optimizer=self.build_optimizer(total_steps),
            loss=self.loss_for(model),
            metrics=list(metrics),
        )

    def dataset(self, x, y, *, training: bool, seed: int = 0, sample_weight=None):
        """A ``tf.data`` pipeline of batches (with ``sample_weight``: ``(x, y, weight)``),
        shuffled and augmented (in the graph) only when ``training``."""
        import tensorflow as tf

        columns = (x, np.asarray(y, dtype=np.int32))
        if sample_weight is not None:
            columns += (np.asarray(sample_weight, dtype=np.float32),)
        data = tf.data.Dataset.from_tensor_slices(columns)
        if training:
            data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        data = data.batch(self.batch_size)
        augmenter = self.augmenter(x.shape[1:], seed) if training else None
        if augmenter is not None:
            data = data.map(
                lambda a, *rest: (augmenter(a, training=True), *rest),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return data.prefetch(tf.data.AUTOTUNE)

    # ---- training ------------------------------------------------------------------------
    def fit(
        self,
        model: keras.Model,
        x,
        y,
        *,
        validation_data: tuple | None,
        epochs: int,
        seed: int = 0,
        sample_weight=None,
        time_budget: str | float | None = None,
        callbacks: tuple | list = (),
        verbose: int = 0,
        run=None,
        resume: bool = False,
    ) -> keras.callbacks.History:
        """Compile and train ``model`` for ``epochs`` (the whole schedule), keep the chosen weights.

        ``sample_weight`` (one weight >= 0 per training example, as Keras's ``fit`` takes it)
        weights each example's loss, e.g. ``LabelIssues.sample_weight("reweight")``.

        ``time_budget`` ("2m", seconds) ends training early, mid-epoch if need be (the schedule
        is not shortened: set ``epochs`` from the budget for a full schedule).
        ``validation_data=None`` trains without validation; it needs ``keep`` "last" or "ema".

        ``run`` (a :class:`~automl_kit.utils.rundir.RunDirectory`) checkpoints every epoch there
        (:func:`~automl_kit.training.resumable_fit`, batches in the order of
        :class:`~automl_kit.training.EpochBatches`); ``resume=True`` continues from the last
        checkpoint, and ends as an unbroken checkpointed fit would (on the CPU). Not with
        ``keep="ema"``, whose average is not checkpointed.
        """
        import time

        from automl_kit.training.callbacks import FitnessGuard
        from automl_kit.utils.progress import parse_duration

        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a whole number >= 1, got {epochs}.")
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float64)
            if weights.shape != (len(x),) or not np.all(np.isfinite(weights)) or weights.min() < 0:
                raise ValueError(
                    f"sample_weight must hold one finite weight >= 0 per training example "
                    f"({len(x)}), got shape {weights.shape}; pass e.g. "
                    "LabelIssues.sample_weight('reweight')."
                )
        if validation_data is None and self.keep == "best":
            raise ValueError(
                "keep='best' picks the best validation epoch: pass validation_data=(x_val, y_val) "
                "or use Recipe(keep='last')."
            )
        validation = None
        if validation_data is not None:
            x_val, y_val = validation_data
            validation = self.dataset(np.asarray(x_val, np.float32), y_val, training=False)
        steps = math.ceil(len(x) / self.batch_size)
        self.compile(model, steps * int(epochs))
        extra = list(callbacks)
        seconds = parse_duration(time_budget)
        if seconds:
            extra.append(FitnessGuard(time.time() + seconds, reject_below=None))
        if run is not None:
            return self._fit_with_checkpoints(
                model, x, y, validation_data, epochs, seed, sample_weight, extra, verbose, run,
                resume,
            )  # fmt: skip
        if self.keep == "best":
            extra.append(KeepBestWeights())
        return model.fit(
            self.dataset(x, y, training=True, seed=seed, sample_weight=sample_weight),
            validation_data=validation,
            epochs=int(epochs),
            shuffle=False,  # the pipeline shuffles, with the seed
            verbose=verbose,
            callbacks=extra,
        )

    def _fit_with_checkpoints(
        self, model, x, y, validation_data, epochs, seed, sample_weight, callbacks, verbose, run,
        resume,
    ) -> keras.callbacks.History:  # fmt: skip
        import hashlib

        from automl_kit.training.checkpoint import resumable_fit

        if self.keep == "ema":
            raise ValueError(
                "a checkpointed fit (run=...) keeps the best or the last epoch: the moving "
                "average of keep='ema' is not checkpointed; use Recipe(keep='best') or 'last'."
            )
        keeper = KeepBestWeights(path=run.path("best.keras")) if self.keep == "best" else None
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, np.float32)
        config = {
            "recipe": self.get_config(),
            "sample_weight": None if weights is None else hashlib.sha1(weights).hexdigest(),
        }
        history, start = resumable_fit(
            model, x, y, run, epochs=int(epochs), batch_size=self.batch_size, seed=seed,
            config=config, resume=resume,
            get_state=lambda: {} if keeper is None else {"best": keeper.get_state()},
            set_state=None if keeper is None else lambda s: keeper.set_state(s.get("best", {})),
            # the keeper saves the best weights before the checkpoint commits the epoch
            callbacks=[*callbacks, *([keeper] if keeper else [])],
            validation_data=validation_data, verbose=verbose,
            augmenter=self.augmenter(x.shape[1:], seed), sample_weight=weights,
        )  # fmt: skip
        if start >= epochs and keeper is not None:  # finished before: the best epoch's weights
            keeper.set_model(model)
            keeper.on_train_end()
        done = keras.callbacks.History()
        done.history = history
        return done

    def kept_accuracy(self, model: keras.Model, history: dict, validation_data: tuple) -> float:
        """Validation accuracy of the weights ``fit`` kept: the best or last epoch's, read from
        ``history``; the moving average (``keep="ema"``, swapped in after the last epoch) is
        evaluated on ``validation_data``."""
        scores = history["val_accuracy"]
        if self.keep == "best":
            return float(max(scores))
        if self.keep == "last":
            return float(scores[-1])
        x_val, y_val = validation_data
        return float(model.evaluate(x_val, y_val, verbose=0, batch_size=256)[1])


__all__ = [
    "AUGMENTATIONS",
    "KEEP",
    "SCHEDULE_SHAPES",
    "KeepBestWeights",
    "Recipe",
    "SparseLabelSmoothing",
    "WarmupSchedule",
    "augment_batch",
]
