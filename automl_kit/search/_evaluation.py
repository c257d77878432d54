"""Fitness of one candidate: build, inherit weights, train a few epochs, score on validation.

Runs inside executor workers, so everything a task needs travels in ``EvalTask`` (JSON-able)
and the data arrives once per worker through ``set_worker_data``. A candidate that fails
(out of memory, NaN loss, invalid shape) gets fitness 0 and a reason; the search goes on.
"""

from __future__ import annotations

import time
import traceback
import zlib
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
import tensorflow as tf

from automl_kit.search.space import SearchSpace
from automl_kit.training import FitnessGuard, Recipe
from automl_kit.utils.models import classification_head

_DATA: dict = {}


class _NoRetracingWarning:
    """Each candidate is a new model, so TensorFlow's "triggered tf.function retracing" warning is expected noise."""

    @staticmethod
    def filter(record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NoRetracingWarning())

_PARENT_WEIGHTS: dict[str, dict[str, list[np.ndarray]]] = {}


def set_worker_data(x, y, x_val, y_val) -> None:
    """Executor initializer: keep the data in this worker for every later task."""
    _DATA.update(x=x, y=y, x_val=x_val, y_val=y_val, num_classes=int(max(y.max(), y_val.max()) + 1))


def candidate_seed(seed: int, key: str) -> int:
    """A seed per candidate that does not depend on evaluation order or process."""
    return zlib.crc32(f"{seed}:{key}".encode()) & 0x7FFFFFFF


@dataclass
class EvalTask:
    key: str
    genes: list
    space_config: dict
    epochs: int
    recipe: dict  # automl_kit.training.Recipe.get_config(): how every candidate is trained
    seed: int
    model_path: str | None = None
    parent_model: str | None = None
    deadline: float | None = None  # absolute time.time(); training stops past it
    reject_below: float | None = None  # first-epoch validation accuracy under which training stops
    group: int = 0  # candidates compared for early rejection (the GA's phase)
    inherit_head: bool = False  # continue the parent's training (Hyperband) rather than grow it


@dataclass
class Evaluation:
    key: str
    genes: list
    fitness: float
    status: str  # ok | rejected | failed | timeout | skipped
    reason: str = ""
    epochs: int = 0
    seconds: float = 0.0
    params: int = 0
    transferred_layers: int = 0
    val_accuracy: list = field(default_factory=list)
    model_path: str | None = None
    group: int = 0

    @property
    def finished(self) -> bool:
        """Counts as done (and is cached); timeouts and skips are retried on resume."""
        return self.status in ("ok", "rejected", "failed")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Evaluation:
        return cls(**data)


def _parent_weights(path: str) -> dict[str, list[np.ndarray]]:
    if path not in _PARENT_WEIGHTS:
        parent = keras.models.load_model(path, compile=False)
        _PARENT_WEIGHTS.clear()  # one parent per phase: keep only the current one
        _PARENT_WEIGHTS[path] = {
            layer.name: layer.get_weights() for layer in parent.layers if layer.weights
        }
    return _PARENT_WEIGHTS[path]


def transfer_weights(
    parent: dict[str, list[np.ndarray]], model, *, include_head: bool = False
) -> int:
    """Copy weights of same-named, same-shaped layers (Xiao Fig. 2.7); the head only if asked.

    The head is the Dense layer that produces the class scores, found structurally
    (:func:`automl_kit.utils.models.classification_head`), whatever its name.
    """
    head = classification_head(model)
    copied = 0
    for layer in model.layers:
        weights = parent.get(layer.name)
        if (layer is head and not include_head) or not weights:
            continue
        if [w.shape for w in weights] == [tuple(v.shape) for v in layer.weights]:
            layer.set_weights(weights)
            copied += 1
    return copied


def evaluate(task: EvalTask, callbacks: tuple = ()) -> Evaluation:
    """Train the candidate ``task.genes`` on the worker's data; never raises for a bad candidate.

    ``callbacks`` are extra Keras callbacks (in-process only, e.g. a peer's pruner); one that
    stops training early marks the candidate ``rejected``.
    """
    start = time.time()

    def result(fitness, status, reason="", **kw):
        return Evaluation(
            task.key,
            list(task.genes),
            float(fitness),
            status,
            reason,
            seconds=time.time() - start,
            group=task.group,
            **kw,
        )

    if task.deadline is not None and start > task.deadline:
        return result(0.0, "skipped", "time budget spent before this candidate started")
    if not _DATA:
        raise RuntimeError(
            "no data in this worker: call set_worker_data first (the executor initializer)."
        )

    keras.backend.clear_session()  # the graph of the previous candidate must not pile up
    keras.utils.set_random_seed(candidate_seed(task.seed, task.key))
    space = SearchSpace.from_config(task.space_config)
    try:
        model = space.build(task.genes, _DATA["x"].shape[1:], _DATA["num_classes"])
    except (ValueError, TypeError) as exc:
        return result(0.0, "failed", f"invalid architecture: {exc}")
    transferred = (
        transfer_weights(_parent_weights(task.parent_model), model, include_head=task.inherit_head)
        if task.parent_model
        else 0
    )
    guard = FitnessGuard(task.deadline, task.reject_below)
    info = {"params": int(model.count_params()), "transferred_layers": transferred}
    recipe = Recipe.from_config(task.recipe)
    try:
        # the recipe's whole schedule in task.epochs: a short full run, not a long run's start
        history = recipe.fit(
            model,
            _DATA["x"],
            _DATA["y"],
            validation_data=(_DATA["x_val"], _DATA["y_val"]),
            epochs=task.epochs,
            seed=candidate_seed(task.seed, task.key),
            callbacks=[keras.callbacks.TerminateOnNaN(), guard, *callbacks],
        ).history
    except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
        return result(0.0, "failed", f"out of memory: {str(exc).splitlines()[0][:200]}", **info)
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        return result(0.0, "failed", f"training error: {str(exc).splitlines()[0][:200]}", **info)
    except Exception as exc:  # a broken candidate must not end the search; keep the cause
        tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return result(0.0, "failed", f"unexpected error: {tail[:300]}", **info)
    losses = history.get("loss", [])
    val_acc = [float(v) for v in history.get("val_accuracy", [])]
    info.update(epochs=len(val_acc), val_accuracy=val_acc)
    if not losses or not np.all(np.isfinite(losses)) or not val_acc:
        return result(0.0, "failed", "NaN loss", **info)
    if guard.timed_out and len(val_acc) < task.epochs:
        return result(0.0, "timeout", "time budget ran out during training", **info)
    if guard.rejected:
        return result(
            val_acc[-1],
            "rejected",
            f"epoch-1 validation accuracy {val_acc[0]:.3f} < {task.reject_below:.3f}",
            **info,
        )
    if len(val_acc) < task.epochs:
        return result(
            val_acc[-1], "rejected", f"stopped by a callback after {len(val_acc)} epochs", **info
        )
    if task.model_path:
        model.save(task.model_path)
    fitness = recipe.kept_accuracy(model, history, (_DATA["x_val"], _DATA["y_val"]))
    return result(fitness, "ok", model_path=task.model_path, **info)
