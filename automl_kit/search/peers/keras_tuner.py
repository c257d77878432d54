"""KerasTuner's oracles proposing chromosomes of the variable-depth space.

``hp.Int("blocks", 1, max_blocks)`` sets the depth and every later block's genes live in a
conditional scope of it, so the oracles see the space a KerasTuner user would write in a
``HyperModel.build(hp)`` loop. Hyperband's ``tuner/epochs`` budgets replace ``epochs_per_eval``
and a continued trial starts from its previous round's weights (head included).

The oracle keeps its KerasTuner project (``oracle.json`` and one ``trial_*/trial.json`` each) in
``<run_dir>/keras_tuner/``; ``search(resume=True)`` reloads it as a KerasTuner user's
``overwrite=False`` does, so the finished trials stay in the oracle and are not trained again, and a
trial cut short by the budget is proposed again.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from automl_kit.search.peers._base import PeerSearcher, PeerState
from automl_kit.search.peers._space import genes_from, hp_name

OBJECTIVE = "val_accuracy"
PROJECT = "keras_tuner"  # folder of the KerasTuner project inside the run directory
TUNER_ID = "automl_kit"


def _kt():
    try:
        import keras_tuner
    except ImportError as exc:
        raise ImportError(
            "KerasTuner peers need the benchmarks extra: pip install -e '.[benchmarks]'"
        ) from exc
    return keras_tuner


def _project(kt, oracle, directory: Path, *, resume: bool):
    """A ``BaseTuner`` that only owns the oracle's project folder (our loop runs the trials).

    Going through KerasTuner's public ``BaseTuner(directory=, project_name=, overwrite=)`` sets the
    oracle's project directory and, with ``overwrite=False``, reloads the oracle and its trials.
    The tuner's own state is the model file of every finished trial, which Hyperband continues.
    """

    class Project(kt.engine.base_tuner.BaseTuner):
        def __init__(self):
            self.models: dict[str, str] = {}  # trial id -> model path relative to the run dir
            with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..."
                super().__init__(
                    oracle, directory=str(directory), project_name=PROJECT, overwrite=not resume
                )

        def get_state(self):
            return {"models": self.models}

        def set_state(self, state):
            self.models = dict(state.get("models", {}))

    return Project()


class _KerasTunerSearch(PeerSearcher):
    def __init__(self, space=None, *, max_blocks: int = 5, **kwargs):
        super().__init__(space, max_blocks=max_blocks, **kwargs)
        self.oracle = None  # the KerasTuner oracle of the last search (its trials, for inspection)

    @property
    def oracle_seed(self) -> int:
        # KerasTuner reads ``seed or random.randint(...)``: seed 0 would be unseeded.
        return self.seed if self.seed else 2**31 - 1

    def make_oracle(self, kt):
        raise NotImplementedError

    def hyperparameters(self, kt):
        hp = kt.HyperParameters()
        hp.Int("blocks", 1, self.max_blocks)
        for block, gene in self.space.layout(self.max_blocks):
            if block is None or block == 0:
                hp.Choice(hp_name(block, gene.name), list(gene.choices))
            else:
                with hp.conditional_scope("blocks", list(range(block + 1, self.max_blocks + 1))):
                    hp.Choice(hp_name(block, gene.name), list(gene.choices))
        return hp

    def _open_project(self, kt, resume: bool):
        saved = self.tuner_path(PROJECT) / "oracle.json"
        if resume and not saved.is_file():
            self.refuse_resume("KerasTuner project", saved)
        oracle = self.make_oracle(kt)
        try:
            project = _project(kt, oracle, self.run.directory.root, resume=resume)
        except (RuntimeError, ValueError, KeyError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(
                f"cannot resume {self.algorithm}: the KerasTuner project in {self.tuner_path(PROJECT)} is "
                f"damaged ({exc}). Start a new run directory."
            ) from exc
        oracle.verbose = 0  # our progress lines replace KerasTuner's trial tables
        oracle.update_space(self.hyperparameters(kt))
        project.save()  # from now on a resumed search finds the project
        return oracle, project

    def _run(self, state):
        kt = _kt()
        self.oracle, project = self._open_project(kt, self.run.resuming)
        oracle = self.oracle
        while True:
            self.run.check_budget()
            # A trial the budget cut short is still "ongoing": the oracle hands it out again.
            trial = oracle.create_trial(TUNER_ID)
            if trial.status == "STOPPED":
                self.run.stop_reason = "the oracle has no more trials"
                return
            values = trial.hyperparameters.values
            genes = genes_from(self.space, values["blocks"], lambda name, _, v=values: v[name])
            epochs = values.get("tuner/epochs")
            previous = project.models.get(values.get("tuner/trial_id"))  # run-relative
            if epochs is not None and previous:
                epochs -= values.get("tuner/initial_epoch", 0)
            (evaluation,) = self.run.evaluate_population(
                [genes],
                epochs=epochs,
                parent_model=previous,
                inherit_head=previous is not None,
                tag={"phase": 0, "generation": int(trial.trial_id)},
            )
            if evaluation.model_path:
                project.models[trial.trial_id] = self.run.directory.relative(evaluation.model_path)
            oracle.update_trial(
                trial.trial_id, {OBJECTIVE: evaluation.fitness}, step=evaluation.epochs
            )
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            project.save()
            self.run.checkpoint(
                PeerState(trials=len(oracle.end_order))
            )  # keeps the history for a resume
            self.run.report(f"trial {trial.trial_id}: {evaluation.fitness:.4f}")


class KerasTunerRandom(_KerasTunerSearch):
    """KerasTuner's ``RandomSearchOracle`` on the variable-depth space."""

    algorithm = "keras_tuner_random"

    def make_oracle(self, kt):
        return kt.oracles.RandomSearchOracle(
            objective=kt.Objective(OBJECTIVE, "max"), max_trials=10**6, seed=self.oracle_seed
        )


class KerasTunerBayesian(_KerasTunerSearch):
    """KerasTuner's Gaussian-process ``BayesianOptimizationOracle`` on the variable-depth space."""

    algorithm = "keras_tuner_bayesian"

    def make_oracle(self, kt):
        return kt.oracles.BayesianOptimizationOracle(
            objective=kt.Objective(OBJECTIVE, "max"), max_trials=10**6, seed=self.oracle_seed
        )


class KerasTunerHyperband(_KerasTunerSearch):
    """KerasTuner's ``HyperbandOracle``; its largest budget is ``epochs_per_eval`` epochs."""

    algorithm = "keras_tuner_hyperband"

    def make_oracle(self, kt):
        return kt.oracles.HyperbandOracle(
            objective=kt.Objective(OBJECTIVE, "max"),
            max_epochs=self.epochs_per_eval,
            factor=3,
            hyperband_iterations=10**6,
            seed=self.oracle_seed,
        )
