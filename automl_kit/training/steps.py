"""Compiled training steps, one per frozen prefix.

Why this shape (measured with TF 2.21 / Keras 3.15):

* Inside ``tf.function``, asking the tape only for the unfrozen variables prunes the frozen
  prefix's backward pass; in eager mode it does not. So every step is compiled.
* A compiled step that reads ``model.trainable_variables`` never retraces when ``trainable``
  changes: the variable list is fixed per step here, and steps are cached by prefix length.
* The optimizer is built over *all* variables before any freezing, so a variable frozen while
  the optimizer was built is not "unknown" later and its slots (momentum) survive freezing.
* ``model.fit`` keeps calling ``model.train_function``; installing the cached step there is what
  makes freezing work under ``fit`` (toggling ``trainable`` alone silently does nothing).
* Gradient sums are switched on and off by a variable inside the same compiled step: a separate
  "measuring" step would cost one more trace (seconds on a CPU) for a handful of epochs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from automl_kit.freezing._units import NORMALIZATION, Unit
from automl_kit.freezing.policies.base import GradientStatistics

FROZEN_BATCHNORM = ("update", "inference")


class TrainSteps:
    """Builds and caches ``model.train_function`` variants for a compiled Keras model.

    ``frozen_batchnorm="update"`` (default) keeps frozen BatchNormalization layers normalising with
    batch statistics and updating their moving averages, as PyTorch does for a layer whose
    parameters have ``requires_grad=False`` (the thesis' setting): only gamma/beta stop changing.
    ``"inference"`` sets ``trainable=False`` on them too, Keras's fine-tuning semantics (moving
    statistics fixed, inference-mode normalisation).
    """

    def __init__(
        self,
        model: keras.Model,
        units: list[Unit],
        *,
        frozen_batchnorm: str = "update",
        scaled: bool = False,
        statistics: bool = False,
    ):
        if frozen_batchnorm not in FROZEN_BATCHNORM:
            raise ValueError(
                f"frozen_batchnorm must be one of {FROZEN_BATCHNORM}, got {frozen_batchnorm!r}."
            )
        self.model, self.units, self.frozen_batchnorm = model, units, frozen_batchnorm
        self.variables = list(model.trainable_variables)
        unit_of = {id(v): i for i, unit in enumerate(units) for v in unit.variables}
        self._unit_index = [unit_of.get(id(v), -1) for v in self.variables]
        self._trainable = {id(layer): layer.trainable for unit in units for layer in unit.layers}
        self.unit_scales = (
            tf.Variable(tf.ones([len(units)]), trainable=False, name="unit_scales")
            if scaled
            else None
        )
        self._sums = self._abs_sums = None
        self.collecting = None
        if statistics:
            self._sums = [
                tf.Variable(tf.zeros_like(v), trainable=False, name="grad_sum")
                for v in self.variables
            ]
            self._abs_sums = [
                tf.Variable(0.0, trainable=False, name="grad_abs_sum") for _ in self.variables
            ]
            self.collecting = tf.Variable(False, trainable=False, name="collecting")
        self._functions: dict[int, object] = {}

    # ---------------------------------------------------------------- variables and statistics
    def trainable_indices(self, prefix: int) -> list[int]:
        """Indices into ``self.variables`` that train when the first ``prefix`` units are frozen."""
        return [i for i, unit in enumerate(self._unit_index) if unit < 0 or unit >= prefix]

    def reset_statistics(self) -> None:
        for total, absolute in zip(self._sums, self._abs_sums):
            total.assign(tf.zeros_like(total))
            absolute.assign(0.0)

    def statistics(self, prefix: int, steps: int) -> GradientStatistics:
        """Reduce the accumulated sums per unit (once per epoch: cheap) into Eq. 3.1's terms."""
        n = len(self.units)
        abs_of_sum, sum_of_abs, squares = np.zeros(n), np.zeros(n), np.zeros(n)
        for total, absolute, unit in zip(self._sums, self._abs_sums, self._unit_index):
            if unit < 0:
                continue
            values = total.numpy().astype(np.float64)
            abs_of_sum[unit] += np.abs(values).sum()
            sum_of_abs[unit] += float(absolute.numpy())
            squares[unit] += np.square(values).sum()
        frozen = np.arange(n) < prefix
        nan = np.where(frozen, np.nan, 0.0)
        return GradientStatistics(abs_of_sum + nan, sum_of_abs + nan, np.sqrt(squares) + nan, steps)

    # ---------------------------------------------------------------- the step
    def make_step(self, prefix: int):
        """The Python train step (``data -> logs``) for a frozen prefix; Keras compiles it."""
        model, indices = self.model, self.trainable_indices(prefix)
        variables = [self.variables[i] for i in indices]
        scales = self.unit_scales
        scale_index = [max(self._unit_index[i], 0) for i in indices]
        has_unit = [self._unit_index[i] >= 0 for i in indices]

        def accumulate(gradients):
            for i, g in zip(indices, gradients):
                if g is None:  # a variable the loss does not depend on
                    continue
                self._sums[i].assign_add(tf.cast(g, self._sums[i].dtype))
                self._abs_sums[i].assign_add(tf.reduce_sum(tf.abs(tf.cast(g, tf.float32))))
            return tf.constant(True)

        def train_step(data):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
                )
                # Keras's own train_step feeds its "loss" metric the same way (private in 3.15)
                model._loss_tracker.update_state(
                    loss, sample_weight=tf.shape(tf.nest.flatten(x)[0])[0]
                )
                scaled_loss = model.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled_loss, variables)
            if self.collecting is not None:
                tf.cond(
                    self.collecting,
                    lambda: accumulate(gradients),
                    lambda: tf.constant(False),
                )
            if scales is not None:
                gradients = [
                    g * tf.cast(scales[u], g.dtype) if owned and g is not None else g
                    for g, u, owned in zip(gradients, scale_index, has_unit)
                ]
            model.optimizer.apply_gradients(zip(gradients, variables))
            return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

        return train_step

    def set_trainable_flags(self, prefix: int) -> None:
        """Mirror the frozen prefix in ``layer.trainable`` (what ``model.summary()`` shows)."""
        for index, unit in enumerate(self.units):
            for layer in unit.layers:
                keep_bn_training = (
                    isinstance(layer, NORMALIZATION) and self.frozen_batchnorm == "update"
                )
                frozen = index < prefix and not keep_bn_training
                layer.trainable = False if frozen else self._trainable[id(layer)]

    def activate(self, prefix: int, collect: bool = False) -> None:
        """Install the compiled step for ``prefix`` as ``model.train_function`` (built once each)."""
        if collect and self.collecting is None:
            raise ValueError(
                "gradient statistics were not enabled: TrainSteps(..., statistics=True)."
            )
        if self.collecting is not None:
            self.collecting.assign(bool(collect))
        key = int(prefix)
        self.set_trainable_flags(key)
        if key not in self._functions:
            # make_train_function compiles whatever `train_step` is; shadow it for this build only
            self.model.train_step = self.make_step(key)
            try:
                self.model.make_train_function(force=True)
                self._functions[key] = self.model.train_function
            finally:
                del self.model.train_step
        self.model.train_function = self._functions[key]

    def restore(self) -> None:
        """Give the model back as it was: all flags restored, Keras's default step next time."""
        self.set_trainable_flags(0)
        self.model.train_function = None
