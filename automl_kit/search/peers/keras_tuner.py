"""KerasTuner's oracles proposing chromosomes of the variable-depth space.

``hp.Int("blocks", 1, max_blocks)`` sets the depth and every later block's genes live in a
conditional scope of it, so the oracles see the space a KerasTuner user would write in a
``HyperModel.build(hp)`` loop. Hyperband's ``tuner/epochs`` budgets replace ``epochs_per_eval``
and a continued trial starts from its previous round's weights (head included).
"""

from __future__ import annotations

import tempfile

from automl_kit.search.base import Searcher
from automl_kit.search.peers._space import genes_from, hp_name

OBJECTIVE = "val_accuracy"


def _kt():
    try:
        import keras_tuner
    except ImportError as exc:
        raise ImportError(
            "KerasTuner peers need the benchmarks extra: pip install -e '.[benchmarks]'"
        ) from exc
    return keras_tuner


class _KerasTunerSearch(Searcher):
    oracle_name = ""

    def __init__(self, space=None, *, max_blocks: int = 5, **kwargs):
        super().__init__(space, **kwargs)
        self.max_blocks = max_blocks

    def get_config(self) -> dict:
        return {**super().get_config(), "max_blocks": self.max_blocks}

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

    def _run(self, state):
        kt = _kt()
        oracle = self.make_oracle(kt)
        with tempfile.TemporaryDirectory() as tmp:  # KerasTuner insists on a project directory
            oracle._set_project_dir(tmp, "oracle")
            oracle.verbose = 0  # our progress lines replace KerasTuner's trial tables
            oracle.update_space(self.hyperparameters(kt))
            models: dict[str, str] = {}
            while True:
                self.check_budget()
                trial = oracle.create_trial("automl_kit")
                if trial.status == "STOPPED":
                    self.stop_reason = "the oracle has no more trials"
                    return
                values = trial.hyperparameters.values
                genes = genes_from(self.space, values["blocks"], lambda name, _, v=values: v[name])
                epochs = values.get("tuner/epochs")
                previous = models.get(values.get("tuner/trial_id"))
                if epochs is not None and previous:
                    epochs -= values.get("tuner/initial_epoch", 0)
                (evaluation,) = self.evaluate_population(
                    [genes],
                    epochs=epochs,
                    parent_model=previous,
                    inherit_head=previous is not None,
                    tag={"phase": 0, "generation": int(trial.trial_id)},
                )
                if evaluation.model_path:
                    models[trial.trial_id] = evaluation.model_path
                oracle.update_trial(
                    trial.trial_id, {OBJECTIVE: evaluation.fitness}, step=evaluation.epochs
                )
                trial.status = "COMPLETED"
                oracle.end_trial(trial)
                self.report(f"trial {trial.trial_id}: {evaluation.fitness:.4f}")


class KerasTunerRandom(_KerasTunerSearch):
    """KerasTuner's ``RandomSearchOracle`` on the variable-depth space."""

    algorithm = "keras_tuner_random"

    def make_oracle(self, kt):
        return kt.oracles.RandomSearchOracle(
            objective=kt.Objective(OBJECTIVE, "max"), max_trials=10**6, seed=self.seed
        )


class KerasTunerBayesian(_KerasTunerSearch):
    """KerasTuner's Gaussian-process ``BayesianOptimizationOracle`` on the variable-depth space."""

    algorithm = "keras_tuner_bayesian"

    def make_oracle(self, kt):
        return kt.oracles.BayesianOptimizationOracle(
            objective=kt.Objective(OBJECTIVE, "max"), max_trials=10**6, seed=self.seed
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
            seed=self.seed,
        )
