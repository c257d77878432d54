"""What a search returns: the best chromosome and model, the history, plots and the final fit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from automl_kit.search._evaluation import Evaluation
from automl_kit.search.space import SearchSpace
from automl_kit.training import Recipe
from automl_kit.utils import Comparison, RunDirectory, parse_duration
from automl_kit.utils.validation import check_training_data


@dataclass
class FinalFit:
    """The best model trained further (:meth:`SearchResult.final_fit`); ``test_accuracy`` and
    ``test_loss`` once scored (:func:`automl_kit.search.evolve` scores it)."""

    model: object
    epochs: int
    best_val_accuracy: float
    history: dict
    test_accuracy: float | None = None
    test_loss: float | None = None


class SearchResult:
    """Best individual, per-generation history and helpers.

    >>> result = VariableLengthGA(CNNSpace.compact(), population=6).search(x, y, validation_data=(xv, yv))  # doctest: +SKIP
    >>> result.best_fitness, result.describe()                                                            # doctest: +SKIP
    >>> final = result.final_fit(x, y, validation_data=(xv, yv)); final.model.evaluate(x_test, y_test)    # doctest: +SKIP
    """

    def __init__(
        self,
        space: SearchSpace,
        best: Evaluation,
        history: list[dict],
        run: RunDirectory,
        config: dict,
        *,
        stop_reason: str = "",
        seconds: float = 0.0,
        evaluations: int | None = None,
    ):
        self.space, self.best, self.history, self.run, self.config = (
            space,
            best,
            history,
            run,
            config,
        )
        self.stop_reason, self.seconds = stop_reason, seconds
        self._evaluations = evaluations
        # True when ``search(resume=True)`` found the run finished and trained nothing
        self.from_earlier_run = False
        # set by automl_kit.search.evolve: the final fit (scored) and the data's description,
        # and the no-search rival it was compared with (rival_model only in the run that trained it)
        self.final: FinalFit | None = None
        self.comparison: Comparison | None = None
        self.rival_model = None
        self.dataset: dict | None = None

    @property
    def best_genes(self) -> list:
        return list(self.best.genes)

    @property
    def best_fitness(self) -> float:
        return self.best.fitness

    @property
    def best_chromosome(self) -> dict:
        return self.space.decode(self.best.genes)

    @property
    def evaluations(self) -> int:
        """Finished candidate trainings, those of earlier (resumed) sessions included.

        The one count of the search: the lines of ``evaluations.jsonl``, which the progress
        lines and the evaluation budget count too (cached reuses are not trainings).
        """
        if self._evaluations is not None:
            return self._evaluations
        return sum(1 for row in self.history if row.get("trained_now"))

    def describe(self) -> list[str]:
        return self.space.describe(self.best.genes)

    def best_model(self):
        """The best candidate's trained model (weights as at the end of its evaluation)."""
        import keras

        if not self.best.model_path:
            raise ValueError("the best candidate has no saved model (it was not trained here).")
        return keras.models.load_model(self.run.resolve(self.best.model_path))

    def history_frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)

    @property
    def recipe(self) -> Recipe:
        """The recipe every candidate trained with (runs made before recipes existed: their
        optimizer, rate and batch size at a constant rate, as they trained)."""
        if "recipe" in self.config:
            return Recipe.from_config(self.config["recipe"])
        legacy = {
            k: self.config[k]
            for k in ("optimizer", "learning_rate", "batch_size")
            if k in self.config
        }
        return Recipe(
            weight_decay=0.0, schedule="constant", warmup=0.0, augment="none", keep="last", **legacy
        )

    def final_fit(
        self,
        x,
        y,
        *,
        validation_data: tuple,
        epochs: int = 15,
        recipe: Recipe | dict | None = None,
        time_budget: str | float | None = None,
        seed: int = 0,
        verbose: int = 0,
    ) -> FinalFit:
        """Train the best model further with a full schedule of ``epochs`` (Xiao Fig. 2.1, step 13).

        Starts from the searched weights with a fresh optimizer; ``recipe`` defaults to the
        search's own (:attr:`recipe`), so the final fit trains as the candidates did, longer.
        The kept weights are the recipe's choice (best validation epoch by default).
        ``time_budget`` ("10m", seconds) also ends training, mid-epoch if need be.
        """
        if isinstance(recipe, dict):
            recipe = Recipe.from_config(recipe)
        recipe = recipe or self.recipe
        parse_duration(time_budget)  # a bad budget is refused before any work
        x, y, x_val, y_val = check_training_data(
            x, y, validation_data, rank=self.space.input_rank()
        )
        model = self.best_model()
        history = recipe.fit(
            model,
            x,
            y,
            validation_data=(x_val, y_val),
            epochs=epochs,
            seed=seed,
            time_budget=time_budget,
            verbose=verbose,
        ).history
        kept = recipe.kept_accuracy(model, history, (x_val, y_val))
        return FinalFit(model, len(history["val_accuracy"]), kept, history)

    def summary(self) -> dict:
        return {
            "algorithm": self.config.get("algorithm"),
            "best_fitness": self.best_fitness,
            "best_genes": self.best_genes,
            "best_chromosome": self.best_chromosome,
            "best_params": self.best.params,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 1),
            "stop_reason": self.stop_reason,
            "run_dir": str(self.run.root),
            **self._final_summary(),
        }

    def _final_summary(self) -> dict:
        if self.final is None:
            return {}
        return {
            "dataset": self.dataset,
            "final_fit_epochs": self.final.epochs,
            "final_val_accuracy": self.final.best_val_accuracy,
            "test_accuracy": self.final.test_accuracy,
            "test_loss": self.final.test_loss,
            **({} if self.comparison is None else {"rival": self.comparison.summary()}),
        }

    def save(self, run_dir: str | os.PathLike | RunDirectory | None = None) -> Path:
        """history.csv, best_chromosome.json, best_architecture.txt and fitness.png.

        Into the search's own run directory unless ``run_dir`` names another folder; the best
        model's path is written relative to the search's run directory when it lies inside it.
        """
        target = self.run if run_dir is None else run_dir
        if not isinstance(target, RunDirectory):
            target = RunDirectory(target)
        target.root.mkdir(parents=True, exist_ok=True)
        target.write_table("history.csv", self.history)
        model = self.best.model_path
        target.write_json(
            "best_chromosome.json",
            {
                "genes": self.best_genes,
                "chromosome": self.best_chromosome,
                "fitness": self.best_fitness,
                "model": self.run.relative(model) if model else None,
            },
        )
        target.path("best_architecture.txt").write_text(
            "\n".join(self.describe()) + "\n", encoding="utf-8"
        )
        self.plot_fitness(target.path("fitness.png"))
        if self.rival_model is not None:
            self.rival_model.save(target.path("rival_model.keras"))
        if self.final is not None:
            self.final.model.save(target.path("final_model.keras"))
            target.write_json("results.json", self.summary())
        return target.root

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> SearchResult:
        """The result of a finished search in ``run_dir``, rebuilt from its files (config.json,
        evaluations.jsonl, checkpoint.json); nothing is trained and the folder is not locked."""
        from automl_kit.registries import SEARCHERS

        run = RunDirectory(run_dir)
        if not (run.root / "config.json").is_file() or run.status != "finished":
            raise FileNotFoundError(
                f"{run.root} holds no finished search (config.json and run.json marked "
                "finished); pass the folder of a search that ended, or resume it first."
            )
        config = run.read_config()
        searcher = SEARCHERS.get(config["algorithm"]).from_config({**config, "verbose": 0})
        from automl_kit.search._run import SearchRun

        searcher.run = SearchRun(searcher, run)
        result = searcher.run.saved_result()
        saved = (
            run.read_checkpoint("checkpoint.json")[0]
            if run.has_checkpoint("checkpoint.json")
            else {}
        )
        result.stop_reason = saved.get("stop_reason", "")
        results, model = run.root / "results.json", run.root / "final_model.keras"
        if results.is_file() and model.is_file():  # the final fit of automl_kit.search.evolve
            import json

            import keras

            summary = json.loads(results.read_text(encoding="utf-8"))
            if "final_fit_epochs" in summary:
                result.dataset = summary.get("dataset")
                result.final = FinalFit(
                    keras.models.load_model(model),
                    summary["final_fit_epochs"],
                    summary["final_val_accuracy"],
                    {},
                    summary.get("test_accuracy"),
                    summary.get("test_loss"),
                )
                if "rival" in summary:
                    result.comparison = Comparison.from_summary(summary["rival"])
        return result

    def plot_fitness(self, path) -> None:
        """Fitness of every individual per generation, phases shaded (as Xiao Fig. 2.10)."""
        from automl_kit.utils.plotting import pyplot

        plt = pyplot()
        rows = [r for r in self.history if "generation" in r]
        fig, ax = plt.subplots(figsize=(9, 4))
        if rows:
            steps = sorted({(r.get("phase", 0), r["generation"]) for r in rows})
            index = {s: i for i, s in enumerate(steps)}
            xs = [index[(r.get("phase", 0), r["generation"])] for r in rows]
            ax.scatter(xs, [r["fitness"] for r in rows], s=12, alpha=0.7)
            for phase in sorted({p for p, _ in steps}):
                cols = [index[s] for s in steps if s[0] == phase]
                if phase % 2:
                    ax.axvspan(min(cols) - 0.5, max(cols) + 0.5, color="0.9", zorder=0)
                ax.text(
                    (min(cols) + max(cols)) / 2,
                    1.02,
                    f"P{phase}",
                    ha="center",
                    fontsize=8,
                    transform=ax.get_xaxis_transform(),
                )
        ax.set_xlabel("generation (all phases)")
        ax.set_ylabel("validation accuracy (fitness)")
        ax.set_ylim(0, 1)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
