"""``train``: what ``automl-kit train`` does, in Python: a zoo model trained with a freezing
policy on the shared recipe, scored on the test set, with the run's files.

>>> from automl_kit.freezing import train
>>> result = train(ak.datasets.load("digits"), "vgg11", width=0.125, epochs=3,
...                run_dir="runs/vgg")                                    # doctest: +SKIP
>>> result.test_accuracy, TrainResult.load("runs/vgg").summary()["policy"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import keras

from automl_kit.freezing.policies import FreezingPolicy
from automl_kit.freezing.trainer import FreezingTrainer, write_freezing_log
from automl_kit.training import Recipe
from automl_kit.utils import Comparison, RunDirectory, require_files, run_root


@dataclass
class TrainResult:
    """A finished ``train`` job: the trained model, its freezing record and its scores.

    ``summary()`` is what ``results.json`` holds; ``save(run_dir)`` writes ``freezing_log.csv``,
    ``freezing.json``, the plots, ``model.keras`` and ``results.json``; ``load(run_dir)`` reads
    them back (the model included). With ``train(compare=...)``, ``comparison`` holds the rival
    policy's run on the same initialisation (its model: ``rival_model.keras``).
    """

    model: keras.Model
    freezing: dict
    test_accuracy: float
    test_loss: float
    train_seconds: float
    model_name: str = ""
    dataset: dict | None = None
    comparison: Comparison | None = None
    rival_model: keras.Model | None = None

    @property
    def epochs_with_freezing(self) -> int:
        return sum(row["frozen_layers"] > 0 for row in self.freezing["epochs"])

    def summary(self) -> dict:
        return {
            "dataset": self.dataset,
            "model": self.model_name,
            "policy": self.freezing["policy"],
            "train_seconds": self.train_seconds,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "epochs_with_freezing": self.epochs_with_freezing,
            **({} if self.comparison is None else {"rival": self.comparison.summary()}),
        }

    def save(self, run_dir: str | os.PathLike | RunDirectory) -> Path:
        from automl_kit.freezing.plots import plot_freezing_rates, plot_frozen_prefix
        from automl_kit.utils import write_json

        root = run_root(run_dir)
        write_freezing_log(self.freezing, root)
        plot_frozen_prefix(self.freezing, root / "frozen_prefix.png")
        if any(row["freezing_rates"] is not None for row in self.freezing["epochs"]):
            plot_freezing_rates(self.freezing, root / "freezing_rates.png")
        self.model.save(root / "model.keras")
        if self.rival_model is not None:
            self.rival_model.save(root / "rival_model.keras")
        write_json(root / "results.json", self.summary())
        return root

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> TrainResult:
        root = require_files(
            run_dir,
            ("results.json", "freezing.json", "model.keras"),
            what="finished train run",
            writers="`automl-kit train` or `TrainResult.save`",
        )
        summary = json.loads((root / "results.json").read_text(encoding="utf-8"))
        return cls(
            model=keras.models.load_model(root / "model.keras"),
            freezing=json.loads((root / "freezing.json").read_text(encoding="utf-8")),
            test_accuracy=summary["test_accuracy"],
            test_loss=summary["test_loss"],
            train_seconds=summary["train_seconds"],
            model_name=summary.get("model", ""),
            dataset=summary.get("dataset"),
            comparison=Comparison.from_summary(summary["rival"]) if "rival" in summary else None,
        )


def train(
    data,
    model: str | keras.Model = "resnet20",
    *,
    policy: FreezingPolicy | str | None = "intelligent",
    epochs: int = 12,
    recipe: Recipe | None = None,
    optimizer: keras.optimizers.Optimizer | None = None,
    width: float = 1.0,
    frozen_batchnorm: str = "update",
    record_rates: bool = False,
    compare: FreezingPolicy | str | None = None,
    seed: int = 0,
    run_dir: str | os.PathLike | RunDirectory | None = None,
    resume: bool = False,
    verbose: int = 1,
) -> TrainResult:
    """Train ``model`` (a zoo name, built at ``width``, or a Keras model) on ``data`` (a
    :class:`~automl_kit.datasets.Dataset`) with ``policy`` (a name of ``POLICIES`` or a policy)
    for ``epochs`` on ``recipe`` (default ``Recipe()``; ``optimizer`` replaces its optimizer and
    schedule, see :class:`FreezingTrainer`), then score it on the test set.

    With ``run_dir`` every epoch is checkpointed there (``resume=True`` continues a stopped
    run) and the result is saved there at the end.

    ``compare`` (a policy or its name, e.g. ``"none"``) then trains the rival: the same model
    from the same initial weights, data order and recipe with that policy (no checkpoints: a
    resumed run trains it again). ``result.comparison`` says which won on validation, by how
    much and at what time.
    """
    from automl_kit.registries import MODELS, POLICIES

    if isinstance(policy, str):
        policy = POLICIES.create(policy)
    if isinstance(compare, str):
        compare = POLICIES.create(compare)
    name = model if isinstance(model, str) else model.name
    if isinstance(model, str):
        keras.utils.set_random_seed(seed)
        model = MODELS.create(model, data.input_shape, data.num_classes, width=width)
    rival = None
    if compare is not None:  # the same initial weights, before training changes them
        rival = keras.models.clone_model(model)
        rival.set_weights(model.get_weights())
        rival_optimizer = (
            None if optimizer is None else optimizer.from_config(optimizer.get_config())
        )

    def trainer_for(net, freezing, chosen_optimizer):
        return FreezingTrainer(
            net,
            chosen_optimizer,
            schedule="auto",
            policy=freezing,
            recipe=recipe or Recipe(),
            frozen_batchnorm=frozen_batchnorm,
            record_rates=record_rates,
        )

    def timed_fit(subject: FreezingTrainer, **checkpoints) -> float:
        started = time.perf_counter()
        subject.fit(
            data.x_train,
            data.y_train,
            epochs=epochs,
            validation_data=data.validation_data,
            verbose=2 if verbose else 0,
            seed=seed,
            **checkpoints,
        )
        return time.perf_counter() - started

    trainer = trainer_for(model, policy, optimizer)
    seconds = timed_fit(trainer, run_dir=run_dir, resume=resume)
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)[:2]
    result = TrainResult(
        model=model,
        freezing=trainer.summary(),
        test_accuracy=float(test_accuracy),
        test_loss=float(test_loss),
        train_seconds=seconds,
        model_name=name,
        dataset=data.summary(),
    )
    if rival is not None:
        if verbose:
            print(f"rival: the same model with policy {compare.name} ...", flush=True)
        rival_trainer = trainer_for(rival, compare, rival_optimizer)
        rival_seconds = timed_fit(rival_trainer)
        result.rival_model = rival
        result.comparison = Comparison(
            _label(trainer.callback.policy.name),
            _kept_val_accuracy(trainer),
            _label(compare.name),
            _kept_val_accuracy(rival_trainer),
            method_test=result.test_accuracy,
            rival_test=float(rival.evaluate(data.x_test, data.y_test, verbose=0)[1]),
            method_seconds=round(seconds, 1),
            rival_seconds=round(rival_seconds, 1),
            hint=f"rival_model.keras, or --freezing {compare.name}",
        )
    if run_dir is not None:
        result.save(run_dir)
    return result


def _label(policy_name: str) -> str:
    return "no freezing" if policy_name == "none" else f"{policy_name} freezing"


def _kept_val_accuracy(trainer: FreezingTrainer) -> float:
    """Validation accuracy of the weights the trainer kept: its best epoch's with the recipe's
    ``keep="best"``, else the last epoch's."""
    scores = [row["val_accuracy"] for row in trainer.callback.log if "val_accuracy" in row]
    keep_best = trainer.recipe is not None and trainer.recipe.keep == "best"
    return float(max(scores) if keep_best else scores[-1])
