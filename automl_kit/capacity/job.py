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
from automl_kit.utils import Comparison, RunDirectory, require_files, run_root

if TYPE_CHECKING:
    import keras

TASKS = tuple(DEFAULTS)
# grow(rival="auto"): the net a user would train instead of growing one, per task
RIVALS = {"sine": "static_large", "mnist": "standard", "cifar10": "static_large"}
# what results.json keeps of an experiment's record (the rest: model, schedule, controller)
METRICS = (
    "final10_mean",
    "final10_std",
    "seconds",
    "growth_steps",
    "test_accuracy",
    "test_loss",
    "validation_accuracy",
    "validation_mse",
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
    ``capacity.png`` and ``results.json``; ``load(run_dir)`` reads them back. With a rival,
    ``comparison`` holds both validation scores and ``rival_model`` (``rival_model.keras``)
    the rival's net."""

    task: str
    method: str
    model: keras.Model
    metrics: dict = field(default_factory=dict)
    schedule: dict | None = None
    comparison: Comparison | None = None
    rival_model: keras.Model | None = None

    def summary(self) -> dict:
        summary = {
            "task": self.task,
            "method": self.method,
            **self.metrics,
            "final_widths": None if self.schedule is None else self.schedule["final_widths"],
        }
        if self.comparison is not None:
            summary["rival"] = self.comparison.summary()
        return summary

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
        if self.rival_model is not None:
            self.rival_model.save(root / "rival_model.keras")
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
        rival = summary.pop("rival", None)
        rival_file = root / "rival_model.keras"
        return cls(
            task=summary.pop("task"),
            method=summary.pop("method"),
            model=keras.models.load_model(root / "model.keras"),
            metrics=summary,
            schedule=schedule,
            comparison=None if rival is None else Comparison.from_summary(rival),
            rival_model=keras.models.load_model(rival_file) if rival_file.is_file() else None,
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
    normalize: bool = False,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
    patience: int = 10,
    interval: int = 4,
    every: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    rival: str = "auto",
    run_dir: str | os.PathLike | RunDirectory | None = None,
    resume: bool = False,
    verbose: int = 1,
) -> GrowthResult:
    """Run ``task`` ("sine", "mnist" or "cifar10") with ``method`` (the task's methods in
    ``automl_kit.capacity.experiments``); unset sizes take the task's defaults
    (``automl_kit.registries.GROWTH_TASK_DEFAULTS``).

    ``normalize`` (cifar10 only) batch-normalises the ResNet's convolutions, the growing net's
    with the partial rule of ``PartialConv2D`` (frozen units keep their outputs).

    ``data`` (a ``Dataset``) replaces the MNIST or CIFAR-10 data the task loads. With
    ``run_dir`` (an open ``RunDirectory``) every epoch is checkpointed there and ``resume=True``
    continues it; the result is saved there at the end.

    ``rival`` ("auto": the static large net, or the plain conv net on MNIST; another method of
    the task; "none") is trained after the method with the same data, seed and epochs, and
    ``comparison`` says which scored better on validation (accuracy on the data set's validation
    split; for sine the MSE on a fresh draw of 512 points) and how long each took. It is not
    checkpointed: a resumed run trains it again. No rival when it would be the method itself.
    """
    from automl_kit.capacity import experiments
    from automl_kit.datasets import load

    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; choose one of: {', '.join(TASKS)}.")
    rival_method = _rival_method(task, method, rival)
    if normalize and task != "cifar10":
        raise ValueError(
            f"normalize batch-normalises the cifar10 ResNet only; drop it for the {task} task."
        )
    if normalize and "gradmax" in (method, rival_method):
        raise ValueError(
            "the gradmax start does not support batch normalisation: pick another method or "
            "rival, or drop normalize."
        )
    default_epochs, default_chunks, default_train, default_test = DEFAULTS[task]
    shape = {} if widths is None else {"widths": tuple(widths)}
    if normalize:
        shape["normalize"] = True
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
    if task != "sine" and data is None:
        data = load(
            "mnist" if task == "mnist" else "cifar10",
            n_train=n_train or default_train,
            n_test=n_test or default_test,
            seed=seed,
        )

    def run(name: str, **options) -> dict:
        settings = {**common, **options}
        if task == "sine":
            return experiments.run_sine(
                name, seed, width=width, n_train=n_train or default_train, **settings
            )
        if task == "mnist":
            return experiments.run_mnist(name, data, seed, **settings)
        return experiments.run_cifar(name, data, seed, every=every, **shape, **settings)

    record = run(method)
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
    if rival_method is not None:
        if verbose:
            print(f"grow: training the rival, {rival_method}, with the same data and epochs ...")
        other = run(rival_method, run_dir=None, resume=False, verbose=0)
        result.comparison = _comparison(task, method, record, rival_method, other)
        if result.comparison is not None:
            result.rival_model = other["model"]
    if run_dir is not None:
        result.save(run_dir)
    return result


def _rival_method(task: str, method: str, rival: str) -> str | None:
    """The method to train as ``method``'s rival (None: no rival), checked before any run."""
    from automl_kit.capacity.experiments import CIFAR_METHODS, MNIST_METHODS, SINE_METHODS

    methods = {"sine": SINE_METHODS, "mnist": MNIST_METHODS, "cifar10": CIFAR_METHODS}[task]
    if rival == "none":
        return None
    chosen = RIVALS[task] if rival == "auto" else rival
    if chosen not in methods:
        raise ValueError(
            f"unknown rival {rival!r} for {task}; choose auto, none or one of: "
            f"{', '.join(methods)}."
        )
    return None if chosen == method else chosen


def _comparison(task: str, method: str, record: dict, rival: str, other: dict) -> Comparison | None:
    """Both runs on validation: accuracy, or for sine the MSE (lower is better); None without
    a validation split."""
    key = "validation_mse" if task == "sine" else "validation_accuracy"
    test = "final10_mean" if task == "sine" else "test_accuracy"
    if record.get(key) is None or other.get(key) is None:
        return None
    return Comparison(
        method,
        record[key],
        rival,
        other[key],
        metric="validation MSE" if task == "sine" else "validation accuracy",
        method_test=record.get(test),
        rival_test=other.get(test),
        method_seconds=record["seconds"],
        rival_seconds=other["seconds"],
        hint="rival_model.keras",
        higher_is_better=task != "sine",
    )
