"""``grow``: what ``automl-kit grow`` does, in Python: one of the thesis's experiments (sine,
MNIST, CIFAR-10 subset) with a growth method, its scores, its schedule and its files.

>>> from automl_kit.capacity import GrowthResult, grow
>>> result = grow("sine", "adaptive", epochs=20, run_dir="runs/sine")     # doctest: +SKIP
>>> GrowthResult.load("runs/sine").summary()["growth_steps"]              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from automl_kit.registries import GROWTH_TASK_DEFAULTS as DEFAULTS
from automl_kit.utils import RunDirectory, require_files, run_root

if TYPE_CHECKING:
    import keras

TASKS = tuple(DEFAULTS)
# what results.json keeps of an experiment's record (the rest: model, schedule, controller)
METRICS = (
    "final10_mean",
    "final10_std",
    "seconds",
    "growth_steps",
    "test_accuracy",
    "test_loss",
    "train_accuracy",
    "gap",
    "flops",
    "curve",
    "samples",
)


@dataclass
class GrowthResult:
    """A finished ``grow`` job. ``schedule`` is the controller's summary (None for the static
    nets); ``save(run_dir)`` writes ``model.keras``, ``capacity_schedule.{csv,json}``,
    ``capacity.png`` and ``results.json``; ``load(run_dir)`` reads them back."""

    task: str
    method: str
    model: keras.Model
    metrics: dict = field(default_factory=dict)
    schedule: dict | None = None

    def summary(self) -> dict:
        return {
            "task": self.task,
            "method": self.method,
            **self.metrics,
            "final_widths": None if self.schedule is None else self.schedule["final_widths"],
        }

    def save(self, run_dir: str | os.PathLike | RunDirectory) -> Path:
        from automl_kit.capacity.controller import save_schedule
        from automl_kit.capacity.plots import plot_schedule
        from automl_kit.utils import write_json

        root = run_root(run_dir)
        if self.schedule is not None:
            save_schedule(self.schedule, root)
            plot_schedule(
                self.schedule["schedule"], root / "capacity.png", losses=self.schedule.get("losses")
            )
        self.model.save(root / "model.keras")
        write_json(root / "results.json", self.summary())
        return root

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> GrowthResult:
        import keras

        import automl_kit.capacity  # noqa: F401  (registers the partial layers for load_model)

        root = require_files(
            run_dir,
            ("results.json", "model.keras"),
            what="finished grow run",
            writers="`automl-kit grow` or `GrowthResult.save`",
        )
        summary = json.loads((root / "results.json").read_text(encoding="utf-8"))
        schedule_file = root / "capacity_schedule.json"
        schedule = (
            json.loads(schedule_file.read_text(encoding="utf-8"))
            if schedule_file.is_file()
            else None
        )
        summary.pop("final_widths", None)
        return cls(
            task=summary.pop("task"),
            method=summary.pop("method"),
            model=keras.models.load_model(root / "model.keras"),
            metrics=summary,
            schedule=schedule,
        )


def grow(
    task: str = "sine",
    method: str = "adaptive",
    *,
    seed: int = 0,
    data=None,
    epochs: int | None = None,
    chunks: int | None = None,
    width: int = 500,
    widths: tuple[int, ...] | None = None,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
    patience: int = 10,
    interval: int = 4,
    every: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    run_dir: str | os.PathLike | RunDirectory | None = None,
    resume: bool = False,
    verbose: int = 1,
) -> GrowthResult:
    """Run ``task`` ("sine", "mnist" or "cifar10") with ``method`` (the task's methods in
    ``automl_kit.capacity.experiments``); unset sizes take the task's defaults
    (``automl_kit.registries.GROWTH_TASK_DEFAULTS``).

    ``data`` (a ``Dataset``) replaces the MNIST or CIFAR-10 data the task loads. With
    ``run_dir`` (an open ``RunDirectory``) every epoch is checkpointed there and ``resume=True``
    continues it; the result is saved there at the end.
    """
    from automl_kit.capacity import experiments
    from automl_kit.datasets import load

    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; choose one of: {', '.join(TASKS)}.")
    default_epochs, default_chunks, default_train, default_test = DEFAULTS[task]
    common = {
        "epochs": epochs or default_epochs,
        "chunks": chunks or default_chunks,
        "lr": learning_rate,
        "optimizer": optimizer,
        "patience": patience,
        "interval": interval,
        "verbose": int(bool(verbose)),
        "run_dir": run_dir,
        "resume": resume,
    }
    if task == "sine":
        record = experiments.run_sine(
            method, seed, width=width, n_train=n_train or default_train, **common
        )
    else:
        if data is None:
            data = load(
                "mnist" if task == "mnist" else "cifar10",
                n_train=n_train or default_train,
                n_test=n_test or default_test,
                seed=seed,
            )
        if task == "mnist":
            record = experiments.run_mnist(method, data, seed, **common)
        else:
            shape = {} if widths is None else {"widths": tuple(widths)}
            record = experiments.run_cifar(method, data, seed, every=every, **shape, **common)
    controller = record["controller"]
    schedule = None
    if controller is not None:
        schedule = {**controller.summary(), "losses": [float(v) for v in controller.losses]}
    result = GrowthResult(
        task=task,
        method=method,
        model=record["model"],
        metrics={k: record[k] for k in METRICS if k in record},
        schedule=schedule,
    )
    if run_dir is not None:
        result.save(run_dir)
    return result
