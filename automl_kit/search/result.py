"""What a search returns: the best chromosome and model, the history, plots and the final fit."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl_kit.search._evaluation import Evaluation
from automl_kit.search.space import SearchSpace
from automl_kit.training import FitnessGuard, optimizer
from automl_kit.utils import RunDirectory, parse_duration
from automl_kit.utils.validation import check_training_data


@dataclass
class FinalFit:
    model: object
    epochs: int
    best_val_accuracy: float
    history: dict


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

    def final_fit(
        self,
        x,
        y,
        *,
        validation_data: tuple,
        max_epochs: int = 100,
        patience: int | None = 5,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        time_budget: str | float | None = None,
        verbose: int = 0,
    ) -> FinalFit:
        """Train the best model further until validation accuracy stops improving (Xiao Fig. 2.1, step 13).

        Keeps the weights of the best epoch; the model is recompiled with a fresh optimizer.
        ``patience=None`` trains exactly ``max_epochs`` and keeps the last weights (no early
        stopping): an epoch-bounded fit, equal for every model whatever the machine's speed.
        ``time_budget`` ("10m", seconds) also ends training, mid-epoch if need be, so that
        comparisons at equal budget stay equal however large the found model is.
        """
        import keras

        if patience is not None and patience < 1:
            raise ValueError(
                f"patience is epochs without improvement (>= 1), got {patience}; "
                "pass None to train exactly max_epochs."
            )
        seconds = parse_duration(time_budget)
        x, y, x_val, y_val = check_training_data(
            x, y, validation_data, rank=self.space.input_rank()
        )
        model = self.best_model()
        model.compile(
            optimizer=optimizer(
                self.config.get("optimizer", "adam"),
                learning_rate or self.config.get("learning_rate", 1e-3),
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        guard = FitnessGuard(time.time() + seconds if seconds else None, reject_below=None)
        callbacks = [guard]
        if patience is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_accuracy", patience=patience, restore_best_weights=True
                )
            )
        history = model.fit(
            x,
            y,
            validation_data=(x_val, y_val),
            epochs=max_epochs,
            verbose=verbose,
            batch_size=batch_size or self.config.get("batch_size", 64),
            callbacks=callbacks,
        ).history
        return FinalFit(
            model, len(history["val_accuracy"]), float(np.max(history["val_accuracy"])), history
        )

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
        return target.root

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
