"""Compiled training steps, one per set of trainable variables.

Why this shape (measured with TF 2.21 / Keras 3.15):

* Inside ``tf.function``, asking the tape only for the trainable variables prunes the backward
  pass of everything upstream that does not train; in eager mode it does not. So every step is
  compiled.
* A compiled step that reads ``model.trainable_variables`` never retraces when ``trainable``
  changes: the variable list is fixed per step here, and steps are cached by that set (the key is
  the frozenset of the variables' identities; the cache holds the variables, so an identity is
  never reused while its step lives).
* The optimizer is built over *all* variables before any step runs, so a variable left out of
  one step is not "unknown" later and its slots (momentum) survive being left out.
* ``model.fit`` keeps calling ``model.train_function``; installing the cached step there is what
  makes a chosen set train under ``fit`` (toggling ``trainable`` alone silently does nothing).
* When the model gains variables (a unit added, a layer grown, a synapse), :meth:`TrainSteps.sync`
  clears the cache and rebuilds the optimizer over the larger set, carrying every existing slot
  over by name: a built Keras optimizer refuses unknown variables, and building it twice would
  append a second set of slots that its saved state no longer matches.
* The step is Keras 3.15's ``train_step`` (TensorFlow backend) through public API: the "loss"
  metric is found in ``model.metrics`` (tests/training/test_steps.py).
* Under a ``tf.distribute`` strategy (e.g. ``MirroredStrategy``; the model, and so its
  optimizer, built inside ``strategy.scope()``) Keras runs the step on each replica and the
  optimizer sums the replicas' gradients; ``compute_loss`` divides each replica's loss by the
  number of replicas, so the sum is the batch's mean gradient. The tracked loss is multiplied
  back (what Keras's private ``unscale_loss_for_distribution`` does). Hooks see this replica's
  share of the gradient; one that is not linear in it (:class:`GradientSums`' ``sum |g|``)
  reduces it across replicas itself. The optimizer is built or rebuilt inside the model's
  strategy scope, and one created under another strategy is refused (its updates would not be
  mirrored). Same weights as on one device: tests/freezing/test_distributed.py.
* Hooks (:class:`GradientSums`, :class:`GradientScales`) run inside the same compiled step. The
  sums are switched on and off by a variable: a separate "measuring" step would cost one more
  trace (seconds on a CPU) for a handful of epochs. (Under several replicas it is compiled
  apart after all: an all-reduce cannot sit inside ``tf.cond``; see :class:`GradientSums`.)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf


def _replica_context():
    """``(context, replicas)`` where the step runs; one replica outside any strategy's ``run``."""
    context = tf.distribute.get_replica_context()
    return context, 1 if context is None else context.num_replicas_in_sync


class GradientHook(Protocol):
    """Runs inside the compiled step on (variables, gradients); returns the gradients to apply.

    Under several replicas the gradients are this replica's share, and :meth:`step_key` names
    what else the traced step depends on (None: nothing), so another value compiles another step.
    """

    def build(self, variables: Sequence) -> None: ...

    def step_key(self) -> Hashable: ...

    def __call__(self, variables: Sequence, gradients: list) -> list: ...


class GradientSums:
    """Per-variable ``sum_j g_j`` and ``sum_j |g_j|`` over the steps while :attr:`collecting` is on.

    The raw material of gradient statistics (e.g. Xiao's freezing rate, Eq. 3.1): cheap to add in
    the step, reduced once per epoch by whoever asked for them. ``g_j`` is step j's whole-batch
    gradient also under a distribution strategy: while collecting, the replicas' shares are
    summed first (one more all-reduce per step). That all-reduce cannot sit inside ``tf.cond``
    (a synchronisation point in control flow), so under several replicas the measuring step is
    compiled apart (:meth:`step_key`) instead of switched by the variable.
    """

    def __init__(self) -> None:
        self.collecting = tf.Variable(False, trainable=False, name="collecting")
        self._sums: dict[int, tuple[tf.Variable, tf.Variable]] = {}

    def build(self, variables: Sequence) -> None:
        for v in variables:
            if id(v) not in self._sums:
                # SUM: built inside a strategy's scope, the replicas' additions are summed too
                self._sums[id(v)] = (
                    tf.Variable(
                        tf.zeros(v.shape, v.dtype),
                        trainable=False,
                        name="grad_sum",
                        aggregation=tf.VariableAggregation.SUM,
                    ),
                    tf.Variable(
                        0.0,
                        trainable=False,
                        name="grad_abs_sum",
                        aggregation=tf.VariableAggregation.SUM,
                    ),
                )

    def reset(self) -> None:
        for total, absolute in self._sums.values():
            total.assign(tf.zeros_like(total))
            absolute.assign(0.0)

    def step_key(self) -> bool:
        return bool(self.collecting.numpy())

    def totals(self, variable) -> tuple[np.ndarray, float]:
        """``(sum of gradients, sum of absolute gradients)`` accumulated for ``variable``."""
        total, absolute = self._sums[id(variable)]
        return total.numpy(), float(absolute.numpy())

    def _accumulate(self, pairs):
        for v, g in pairs:
            total, absolute = self._sums[id(v)]
            total.assign_add(tf.cast(g, total.dtype))
            absolute.assign_add(tf.reduce_sum(tf.abs(tf.cast(g, tf.float32))))
        return tf.constant(True)

    def __call__(self, variables, gradients):
        pairs = [(v, g) for v, g in zip(variables, gradients) if g is not None]  # None: unused
        context, replicas = _replica_context()
        if replicas == 1:
            tf.cond(self.collecting, lambda: self._accumulate(pairs), lambda: tf.constant(False))
        else:
            with tf.init_scope():  # the value this step is compiled for (see step_key)
                collecting = self.step_key()
            if collecting:
                # |g| needs the batch's gradient, not this replica's share; each replica then
                # adds 1/replicas of it: a plain variable, or a mirrored one summing the
                # replicas' updates, gains the batch's gradient once
                summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [g for _, g in pairs])
                self._accumulate([(v, g / replicas) for (v, _), g in zip(pairs, summed)])
        return gradients


class GradientScales:
    """Multiplies the gradients of each group of variables by ``scales[group]`` (a variable).

    Per-layer learning rates (FreezeOut anneals them to zero) without one optimizer per layer.
    Variables in no group keep their gradients. Linear, so scaling each replica's share is
    scaling the sum.
    """

    def __init__(self, groups: Sequence[Sequence]):
        self.group_of = {id(v): i for i, group in enumerate(groups) for v in group}
        self.scales = tf.Variable(tf.ones([len(groups)]), trainable=False, name="gradient_scales")

    def build(self, variables: Sequence) -> None:
        """Groups are fixed at construction; new variables are not scaled."""

    def step_key(self) -> None:
        return None

    def assign(self, values) -> None:
        self.scales.assign(np.asarray(values, dtype=np.float32))

    def __call__(self, variables, gradients):
        out = []
        for v, g in zip(variables, gradients):
            group = self.group_of.get(id(v))
            out.append(
                g if g is None or group is None else g * tf.cast(self.scales[group], g.dtype)
            )
        return out


def _loss_tracker(model: keras.Model):
    """The "loss" metric Keras's own step feeds (public: ``model.metrics`` lists it once compiled)."""
    for metric in model.metrics:
        if metric.name == "loss":
            return metric
    raise ValueError("compile the model (optimizer and loss) before building training steps.")


def _rebuild_optimizer(optimizer, variables: list, strategy):
    """A fresh optimizer of the same config built over ``variables``, with old slots copied by name."""
    with strategy.scope():  # a Keras optimizer updates through the strategy it was created under
        fresh = type(optimizer).from_config(optimizer.get_config())
        fresh.build(variables)
    old = {v.name: v for v in optimizer.variables}
    for v in fresh.variables:
        match = old.get(v.name)
        if match is not None and tuple(match.shape) == tuple(v.shape):
            v.assign(match)
    return fresh


def _check_optimizer_strategy(model: keras.Model) -> None:
    """Refuse an optimizer whose variables live outside the model's strategy (not mirrored)."""
    if model.distribute_strategy.num_replicas_in_sync == 1:
        return
    if not isinstance(model.optimizer.iterations.value, tf.distribute.DistributedValues):
        raise ValueError(
            f"model {model.name!r} is built under a {type(model.distribute_strategy).__name__} with "
            f"{model.distribute_strategy.num_replicas_in_sync} replicas but its optimizer was not: "
            "create the optimizer (and compile) inside the same `strategy.scope()` as the model."
        )


class TrainSteps:
    """Builds and caches ``model.train_function`` variants, one per set of trainable variables.

    ``activate(variables)`` installs the compiled step that trains exactly ``variables`` (all the
    model's trainable variables when None); other variables keep their values and optimizer slots.
    ``hooks`` see every step's gradients (statistics, scaling). The model must be compiled.

    >>> steps = TrainSteps(model, hooks=[GradientSums()])               # doctest: +SKIP
    >>> steps.activate(model.get_layer("head").trainable_variables)     # doctest: +SKIP
    >>> model.fit(x, y, epochs=1)  # only the head trains               # doctest: +SKIP
    """

    def __init__(self, model: keras.Model, *, hooks: Sequence[GradientHook] = ()):
        if getattr(model, "optimizer", None) is None:
            raise ValueError(
                "compile the model (optimizer and loss) before building training steps."
            )
        self.model, self.hooks = model, list(hooks)
        self.variables: list = list(model.trainable_variables)
        self._seen = {id(v) for v in model.weights}
        self._functions: dict[tuple, tuple[list, object]] = {}
        self.compilations = 0  # steps compiled so far (a cache miss each)
        self.strategy = model.distribute_strategy
        if not model.optimizer.built:
            with self.strategy.scope():
                model.optimizer.build(self.variables)
        _check_optimizer_strategy(model)
        for hook in self.hooks:
            hook.build(self.variables)

    # ---------------------------------------------------------------- variables
    def key(self, variables: Iterable) -> frozenset:
        """The cache key of a trainable set: the identities of its variables."""
        return frozenset(id(v) for v in variables)

    def sync(self) -> bool:
        """Rebuild if the model gained variables since the last call; True when it did."""
        weights = self.model.weights
        if all(id(v) in self._seen for v in weights):
            return False
        known = {id(v) for v in self.variables}
        added = [v for v in self.model.trainable_variables if id(v) not in known]
        self.variables += added
        self._seen = {id(v) for v in weights}
        self._functions.clear()
        self.model.train_function = None
        optimizer = self.model.optimizer
        if added and optimizer.built:
            self.model.optimizer = _rebuild_optimizer(optimizer, self.variables, self.strategy)
        for hook in self.hooks:
            hook.build(self.variables)
        return True

    def _select(self, variables: Iterable | None) -> list:
        if variables is None:
            return list(self.variables)
        wanted = self.key(variables)
        unknown = wanted - self.key(self.variables)
        if unknown:
            names = [v.path for v in variables if id(v) in unknown]
            raise ValueError(
                f"variables {names} are not trainable variables of model {self.model.name!r}; "
                "make them trainable before building TrainSteps, or call sync() after adding them."
            )
        return [v for v in self.variables if id(v) in wanted]  # the model's order: deterministic

    # ---------------------------------------------------------------- the step
    def make_step(self, variables: Iterable | None = None):
        """The Python train step (``data -> logs``) training ``variables``; Keras compiles it."""
        model, variables, hooks = self.model, self._select(variables), list(self.hooks)
        loss_tracker = _loss_tracker(model)

        def train_step(data):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
                )
                # as Keras's own train_step: the mean over samples, whatever the weights
                first = next(t for t in tf.nest.flatten(x) if t is not None)
                # compute_loss divided it by the replicas so that their gradients sum to the mean
                replicas = _replica_context()[1]
                loss_tracker.update_state(loss * replicas, sample_weight=tf.shape(first)[0])
                scaled_loss = model.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled_loss, variables)
            for hook in hooks:
                gradients = hook(variables, gradients)
            model.optimizer.apply_gradients(zip(gradients, variables))
            return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

        return train_step

    def activate(self, variables: Iterable | None = None) -> None:
        """Install the compiled step training ``variables`` as ``model.train_function``."""
        self.sync()
        selected = self._select(variables)
        key = (self.key(selected), self._hook_keys())
        if key not in self._functions:
            # make_train_function compiles whatever `train_step` is; shadow it for this build only
            self.model.train_step = self.make_step(selected)
            try:
                self.model.make_train_function(force=True)
                self._functions[key] = (selected, self.model.train_function)
                self.compilations += 1
            finally:
                del self.model.train_step
        self.model.train_function = self._functions[key][1]

    def _hook_keys(self) -> tuple:
        """What the hooks' traced code depends on; only under several replicas (see GradientHook)."""
        if self.strategy.num_replicas_in_sync == 1:
            return ()
        return tuple(hook.step_key() for hook in self.hooks)

    def restore(self) -> None:
        """Keras's default step next time ``fit`` runs."""
        self.model.train_function = None
