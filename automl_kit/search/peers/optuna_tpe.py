"""Optuna's TPE sampler with a median pruner on the variable-depth space.

The study lives in an SQLite storage, ``<run_dir>/optuna.db`` (study ``automl_kit``), so
``search(resume=True)`` continues it (``load_if_exists=True``): the finished trials stay in the
study and inform TPE, and a trial the budget cut short is asked again.
"""

from __future__ import annotations

import zlib

import keras

from automl_kit.search.peers._base import PeerSearcher, PeerState
from automl_kit.search.peers._space import genes_from

STORAGE = "optuna.db"
STUDY = "automl_kit"


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(
            "the Optuna peer needs the benchmarks extra: pip install -e '.[benchmarks]'"
        ) from exc
    return optuna


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


class OptunaTPE(PeerSearcher):
    """``optuna.samplers.TPESampler`` + ``MedianPruner``; runs in-process (the pruner sees every epoch).

    >>> OptunaTPE(CNNSpace.compact(), seed=0).search(x, y, validation_data=(xv, yv), time_budget="10m")  # doctest: +SKIP
    """

    algorithm = "optuna_tpe"

    def __init__(self, space=None, *, max_blocks: int = 5, startup_trials: int = 5, **kwargs):
        super().__init__(space, max_blocks=max_blocks, **kwargs)
        if startup_trials < 0:
            raise ValueError(f"startup_trials must be at least 0, got {startup_trials}.")
        self.startup_trials = startup_trials
        self.study = None  # the Optuna study of the last search (its trials, for inspection)

    def get_config(self) -> dict:
        return {**super().get_config(), "startup_trials": self.startup_trials}

    def _sampler_seed(self, trials_so_far: int) -> int:
        # A resumed study must not replay the fresh run's random draws (they would repeat the
        # trials it already holds), yet stay seeded: derive the seed from the seed and the count.
        if trials_so_far == 0:
            return self.seed
        return zlib.crc32(f"{self.seed}:{trials_so_far}".encode())

    def _open_study(self, optuna):
        path = self.tuner_path(STORAGE)
        if self.run.resuming and not path.is_file():
            self.refuse_resume("Optuna storage", path)
        if not self.run.resuming and path.exists():
            path.unlink()  # left by a search stopped before its first evaluation: start afresh
        storage = optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
        if self.run.resuming and STUDY not in optuna.get_all_study_names(storage):
            self.refuse_resume(f"Optuna study {STUDY!r}", path)
        study = optuna.create_study(
            storage=storage,
            study_name=STUDY,
            direction="maximize",
            load_if_exists=self.run.resuming,
            pruner=optuna.pruners.MedianPruner(
                n_startup_trials=self.startup_trials, n_warmup_steps=1
            ),
        )
        cut_short = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        study.sampler = optuna.samplers.TPESampler(
            seed=self._sampler_seed(len(study.trials) - len(cut_short)),
            n_startup_trials=self.startup_trials,
        )
        for trial in cut_short:  # asked, never told: the budget or a kill ended it; ask it again
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            study.enqueue_trial(trial.params, skip_if_exists=False)
        return study

    def _run(self, state):
        optuna = _optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = study = self._open_study(optuna)
        while True:
            self.run.check_budget()
            trial = study.ask()
            blocks = trial.suggest_int("blocks", 1, self.max_blocks)
            genes = genes_from(
                self.space,
                blocks,
                lambda name, choices, t=trial: t.suggest_categorical(name, list(choices)),
            )
            pruning = _Pruning(trial)
            (evaluation,) = self.run.evaluate_population(
                [genes], callbacks=(pruning,), tag={"phase": 0, "generation": trial.number}
            )
            if pruning.pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, evaluation.fitness)
            self.run.checkpoint(
                PeerState(trials=len(study.trials))
            )  # keeps the history for a resume
            self.run.report(f"trial {trial.number}: {evaluation.fitness:.4f} ({evaluation.status})")
