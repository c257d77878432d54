"""``GrowthController``: grow partial layers when the moving average of the training loss plateaus."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import keras
import numpy as np

from automl_kit.capacity.starts import get_start
from automl_kit.capacity.state import Capacity


def _loss_tracker(model):
    for metric in model.metrics:
        if metric.name == "loss":
            return metric
    return None


@keras.saving.register_keras_serializable(package="automl_kit")
class GrowthController(keras.callbacks.Callback):
    """The thesis's adaptive schedule (Chapter 4.1, 5.1): track an exponential moving average
    of the per-batch training loss; when it has not improved (by ``min_delta``) for
    ``patience`` checks (the thesis: 10), grow by ``step`` chunks (fifths or tenths, the
    layers' ``chunks``), freezing what was active (``freeze=False``: grow without freezing).

    ``per_layer=True`` grows one layer per plateau, the one whose active units have the
    highest activation standard deviation on the ``probe`` batch (Section 4.3, after He et al.
    2016). ``unfreeze=True`` adds a late phase: the first plateau at full width unfreezes all.
    ``start`` sets the new units' weights (``"zero_outgoing"``, ``"keep_init"``, ``"net2net"``,
    ``"gradmax"``; GradMax needs ``probe=(x, y)``). ``warmup`` batches pass before the first
    plateau check, and after each growth. ``interval`` batches are averaged into one check (the
    thesis's "samples": its CIFAR run sampled the loss every 100 steps); ``patience`` counts
    checks.

    As a callback it reads the batch loss from the model's loss tracker, so it works with
    ``model.fit``; in a custom loop call :meth:`update` with each batch loss. :attr:`schedule`
    records every change (step, event, each layer's active/frozen units); :meth:`save` writes it
    as CSV and JSON, :meth:`plot` draws it.

    >>> controller = GrowthController(patience=3, smoothing=0.0)
    >>> controller.get_config()["patience"]
    3
    """

    def __init__(
        self,
        capacity: Capacity | None = None,
        *,
        patience: int = 10,
        smoothing: float = 0.9,
        min_delta: float = 0.0,
        step: int = 1,
        freeze: bool = True,
        per_layer: bool = False,
        unfreeze: bool = False,
        start="zero_outgoing",
        warmup: int = 0,
        interval: int = 1,
        every: int | None = None,
        probe=None,
        verbose: int = 0,
    ):
        super().__init__()
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(
                f"patience is a number of batches >= 1 (thesis: 10), got {patience!r}."
            )
        if not 0 <= smoothing < 1:
            raise ValueError(
                f"smoothing is the moving average's weight of the past, in [0, 1), got {smoothing}."
            )
        if not isinstance(step, int) or step < 1:
            raise ValueError(
                f"growth step is a whole number of chunks >= 1 (1 = one fifth with chunks=5), "
                f"got {step!r}."
            )
        if min_delta < 0 or not math.isfinite(min_delta):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta}.")
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval is a number of batches >= 1, got {interval!r}.")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(
                f"every is a number of batches >= 1 between growths (or None for the plateau "
                f"rule), got {every!r}."
            )
        if not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup is a number of batches >= 0, got {warmup!r}.")
        self.capacity = capacity
        self.patience, self.smoothing, self.min_delta = patience, float(smoothing), float(min_delta)
        self.step, self.freeze, self.per_layer = step, bool(freeze), bool(per_layer)
        self.unfreeze, self.warmup, self.verbose = bool(unfreeze), warmup, int(verbose)
        self.interval, self.every = interval, every
        self.start = get_start(start)
        self.probe = probe  # data, not configuration: from_config leaves it to the caller
        self.steps = 0  # batches seen
        self.average: float | None = None
        self.best = math.inf
        self.wait = 0
        self.unfrozen = False
        self.schedule: list[dict] = []
        self.losses: list[float] = []  # per-batch training loss
        self._tracked = (0.0, 0.0)
        self._pending: list[float] = []

    # ---------------------------------------------------------------- configuration
    def get_config(self) -> dict:
        return {
            "patience": self.patience,
            "smoothing": self.smoothing,
            "min_delta": self.min_delta,
            "step": self.step,
            "freeze": self.freeze,
            "per_layer": self.per_layer,
            "unfreeze": self.unfreeze,
            "start": {"name": self.start.name, **self.start.get_config()},
            "warmup": self.warmup,
            "interval": self.interval,
            "every": self.every,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config: dict) -> GrowthController:
        return cls(**config)

    # ---------------------------------------------------------------- state (resume)
    def get_state(self) -> dict:
        """Everything a resumed run needs (JSON-able): counters, the moving average, the
        schedule, the batch losses and the widths (chunks) of every partial layer."""
        if self.capacity is None:
            raise ValueError("attach(model) before get_state(): the state includes its widths.")
        finite = lambda v: None if v is None or not math.isfinite(v) else float(v)  # noqa: E731
        return {
            "steps": self.steps,
            "average": finite(self.average),
            "best": finite(self.best),
            "wait": self.wait,
            "unfrozen": self.unfrozen,
            "pending": list(self._pending),
            "schedule": self.schedule,
            "losses": list(self.losses),
            "widths": {name: list(w) for name, w in zip(self._names(), self.capacity.config())},
            "start_calls": getattr(self.start, "_calls", None),
        }

    def set_state(self, state: dict) -> None:
        """Continue from :meth:`get_state` (after :meth:`attach` and restoring the weights)."""
        if self.capacity is None:
            raise ValueError("attach(model) before set_state(): the state sets its widths.")
        self.steps, self.wait = int(state["steps"]), int(state["wait"])
        self.average = state["average"]
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.unfrozen = bool(state["unfrozen"])
        self._pending = [float(v) for v in state["pending"]]
        self.schedule = [dict(row) for row in state["schedule"]]
        self.losses = [float(v) for v in state["losses"]]
        if state.get("start_calls") is not None:
            self.start._calls = int(state["start_calls"])
        self.capacity.restore_widths({name: tuple(w) for name, w in state["widths"].items()})

    def _names(self) -> list[str]:
        return [layer.name for layer in self.capacity.layers]

    # ---------------------------------------------------------------- the rule
    def attach(self, model: keras.Model) -> Capacity:
        """The Capacity of ``model`` (made on first use), with its first schedule row."""
        if self.start.name == "gradmax" and self.probe is None:
            raise ValueError("start='gradmax' needs probe=(x, y), a batch of training data.")
        if self.per_layer and self.probe is None:
            raise ValueError("per_layer=True needs probe=(x, y) to measure activation spread.")
        if self.capacity is None or self.capacity.model is not model:
            self.capacity = Capacity(model)
        if not self.schedule:
            self._record("start")
        return self.capacity

    def update(self, loss: float) -> str | None:
        """Feed one batch's training loss; returns ``"grow"``/``"unfreeze"`` when it acted."""
        if self.capacity is None:
            raise ValueError("attach(model) (or use the controller in model.fit) before update().")
        loss = float(loss)
        self.steps += 1
        self.losses.append(loss)
        if self.every is not None and self._since_change() >= self.every:
            return self._act()  # the fixed schedule (the plateau rule is off)
        if not math.isfinite(loss):
            return None  # a diverged batch says nothing about a plateau
        self._pending.append(loss)
        if len(self._pending) < self.interval:
            return None
        loss = sum(self._pending) / len(self._pending)
        self._pending = []
        s = self.smoothing
        self.average = loss if self.average is None else s * self.average + (1 - s) * loss
        if self.every is not None or (self.warmup and self._since_change() <= self.warmup):
            return None
        if self.average < self.best - self.min_delta:
            self.best, self.wait = self.average, 0
            return None
        self.wait += 1
        if self.wait < self.patience:
            return None
        return self._act()

    def _since_change(self) -> int:
        return self.steps - (self.schedule[-1]["step"] if self.schedule else 0)

    def _act(self) -> str | None:
        capacity = self.capacity
        self.best, self.wait = math.inf, 0
        if not capacity.at_full_width():
            layers = [self._widest_spread()] if self.per_layer else None
            capacity.grow(
                layers, step=self.step, freeze=self.freeze, start=self.start, data=self.probe
            )
            event = self._record("grow")
        elif self.unfreeze and not self.unfrozen:
            self.unfrozen = True
            capacity.freeze_all(False)
            event = self._record("unfreeze")
        else:
            return None
        self.average = None  # the changed network's loss is a new series
        return event

    def _widest_spread(self):
        """The growable layer (not at full width) with the highest activation std (Section 4.3)."""
        candidates = [l for l in self.capacity.growable() if l.active < l.chunks]
        spreads = self.activation_spread()
        return max(candidates, key=lambda l: spreads[l.name])

    def activation_spread(self) -> dict:
        """``{layer: mean over active units of the std of its activation}`` on the probe batch."""
        layers = self.capacity.layers
        x = self.probe[0] if isinstance(self.probe, (tuple, list)) else self.probe
        for layer in layers:
            layer.recording = True
        try:
            self.capacity.model(x, training=False)
            out = {}
            for layer in layers:
                z = layer.recorded["preactivation"]
                a = layer.activation(z) if layer.activation is not None else z
                a = np.asarray(a).reshape(-1, a.shape[-1])
                out[layer.name] = float(np.mean(np.std(a, axis=0)))
        finally:
            for layer in layers:
                layer.recording, layer.recorded = False, {}
        return out

    def _record(self, event: str) -> str:
        row = {
            "step": self.steps,
            "event": event,
            "loss_average": self.average,
            "layers": {
                name: {"active": w["active_units"], "frozen": w["frozen_units"]}
                for name, w in self.capacity.widths().items()
            },
        }
        self.schedule.append(row)
        if self.verbose and event != "start":
            widths = ", ".join(f"{n} {w['active']}/{w['frozen']}" for n, w in row["layers"].items())
            print(f"step {self.steps}: {event} -> active/frozen units {widths}", flush=True)
        return event

    # ---------------------------------------------------------------- Keras callback
    def on_train_begin(self, logs=None):
        self.attach(self.model)
        self.capacity.activate()

    def on_epoch_begin(self, epoch, logs=None):
        self._tracked = (0.0, 0.0)  # Keras resets the loss tracker each epoch

    def on_train_batch_end(self, batch, logs=None):
        tracker = _loss_tracker(self.model)
        if tracker is None:
            raise ValueError("compile the model with a loss: the controller follows the loss.")
        # the tracker is a running mean over the epoch: the difference of its sums is this batch
        values = {v.name: float(v.numpy()) for v in tracker.variables}
        total, count = values["total"], values["count"]
        before_total, before_count = self._tracked
        self._tracked = (total, count)
        if count > before_count:
            self.update((total - before_total) / (count - before_count))

    # ---------------------------------------------------------------- outputs
    def summary(self) -> dict:
        return {
            "config": self.get_config(),
            "steps": self.steps,
            "growths": sum(row["event"] == "grow" for row in self.schedule),
            "schedule": self.schedule,
            "final_widths": self.schedule[-1]["layers"] if self.schedule else {},
        }

    def schedule_rows(self) -> list[dict]:
        """One row per (change, layer): ``step, event, layer, active_units, frozen_units``."""
        return schedule_rows(self.schedule)

    def save(self, run_dir) -> list[Path]:
        """Write ``capacity_schedule.csv`` and ``capacity_schedule.json`` into ``run_dir``."""
        from automl_kit.utils import run_root

        root = run_root(run_dir)
        return save_schedule(self.summary(), root)

    def plot(self, path, *, losses: bool = True) -> Path:
        """Active (solid) and frozen (dashed) units of each layer over steps; the loss below."""
        from automl_kit.capacity.plots import plot_schedule

        return plot_schedule(self.schedule, path, losses=self.losses if losses else None)


def schedule_rows(schedule: list[dict]) -> list[dict]:
    """One row per (change, layer) of a controller's ``schedule``: ``step, event, layer,
    active_units, frozen_units``."""
    return [
        {
            "step": row["step"],
            "event": row["event"],
            "layer": name,
            **{"active_units": w["active"], "frozen_units": w["frozen"]},
        }
        for row in schedule
        for name, w in row["layers"].items()
    ]


def save_schedule(summary: dict, root: Path) -> list[Path]:
    """``capacity_schedule.csv`` (:func:`schedule_rows`) and ``capacity_schedule.json``
    (``summary``, a :meth:`GrowthController.summary`) in ``root``."""
    from automl_kit.utils.io import write_json

    csv_path = root / "capacity_schedule.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["step", "event", "layer", "active_units", "frozen_units"])
        writer.writeheader()
        writer.writerows(schedule_rows(summary["schedule"]))
    json_path = root / "capacity_schedule.json"
    write_json(json_path, summary)
    return [csv_path, json_path]
