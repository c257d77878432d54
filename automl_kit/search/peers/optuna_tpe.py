"""Optuna's TPE sampler with a median pruner on the variable-depth space."""

from __future__ import annotations

import keras

from automl_kit.search.base import Searcher
from automl_kit.search.peers._space import genes_from


class _Pruning(keras.callbacks.Callback):
    """Reports validation accuracy each epoch; stops training when Optuna's pruner says so."""

    def __init__(self, trial):
        super().__init__()
        self.trial, self.pruned = trial, False

    def on_epoch_end(self, epoch, logs=None):
        self.trial.report(float((logs or {}).get("val_accuracy", 0.0)), epoch)
        if self.trial.should_prune():
            self.pruned = True
            self.model.stop_training = True


class OptunaTPE(Searcher):
    """``optuna.samplers.TPESampler`` + ``MedianPruner``; runs in-process (the pruner sees every epoch).

    >>> OptunaTPE(CNNSpace.compact(), seed=0).search(x, y, validation_data=(xv, yv), time_budget="10m")  # doctest: +SKIP
    """

    algorithm = "optuna_tpe"

    def __init__(self, space=None, *, max_blocks: int = 5, startup_trials: int = 5, **kwargs):
        super().__init__(space, **kwargs)
        self.max_blocks, self.startup_trials = max_blocks, startup_trials

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "max_blocks": self.max_blocks,
            "startup_trials": self.startup_trials,
        }

    def _run(self, state):
        try:
            import optuna
        except ImportError as exc:
            raise ImportError(
                "the Optuna peer needs the benchmarks extra: pip install -e '.[benchmarks]'"
            ) from exc
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(
                seed=self.seed, n_startup_trials=self.startup_trials
            ),
            pruner=optuna.pruners.MedianPruner(
                n_startup_trials=self.startup_trials, n_warmup_steps=1
            ),
        )
        while True:
            self.check_budget()
            trial = study.ask()
            blocks = trial.suggest_int("blocks", 1, self.max_blocks)
            genes = genes_from(
                self.space,
                blocks,
                lambda name, choices, t=trial: t.suggest_categorical(name, list(choices)),
            )
            pruning = _Pruning(trial)
            (evaluation,) = self.evaluate_population(
                [genes], callbacks=(pruning,), tag={"phase": 0, "generation": trial.number}
            )
            if pruning.pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, evaluation.fitness)
            self.report(f"trial {trial.number}: {evaluation.fitness:.4f} ({evaluation.status})")
