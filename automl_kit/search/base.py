"""What every search algorithm shares: its settings, the data checks and the entry point.

A search algorithm subclasses ``Searcher`` and implements ``_run(state)``: what to evaluate
next. It asks its run (``self.run``, a :class:`~automl_kit.search._run.SearchRun`, which owns the
folder, the evaluations, the budget and the checkpoints) to ``evaluate_population(...)``, is told
the evaluations, and calls ``self.run.checkpoint(state)`` at safe points (KerasTuner's
``Oracle``/``Tuner`` split). An algorithm's state is a :class:`SearchState` dataclass that
round-trips through JSON.
"""

from __future__ import annotations

import json
import random
import warnings
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

from automl_kit.search._run import SearchRun, SearchState
from automl_kit.search.result import SearchResult
from automl_kit.search.space import SearchSpace
from automl_kit.training import Recipe
from automl_kit.utils import RunDirectory
from automl_kit.utils.budget import Budget, BudgetExhausted
from automl_kit.utils.interrupt import Interrupted
from automl_kit.utils.validation import check_training_data

# settings that do not change the search path: not compared when a run is resumed
RUNTIME_SETTINGS = ("executor", "workers", "verbose")
# The old name of the budget's stop signal, kept importable.
SearchStopped = BudgetExhausted


class Searcher:
    """Base class of the architecture searches (variable-length GA and its rivals).

    Subclasses set ``algorithm`` (the registry name) and ``State`` (their :class:`SearchState`),
    implement ``_run(state)`` and extend ``get_config``. ``verbose=0`` prints nothing, ``1``
    one progress line per generation or round (``quiet`` is the deprecated spelling of 0).

    Every candidate trains with ``recipe`` (:class:`~automl_kit.training.Recipe`, default
    ``Recipe()``) for ``epochs_per_eval`` epochs: the recipe's whole schedule, short. Its fitness
    is the validation accuracy of the weights the recipe keeps. ``batch_size``,
    ``learning_rate`` and ``optimizer`` are shorthands that change those fields of the recipe.
    """

    algorithm = "searcher"
    # constructor keywords beyond Searcher's that this algorithm takes (the CLI's algorithm
    # options; a flag for another algorithm is refused by name)
    options: frozenset[str] = frozenset()
    State: ClassVar[type[SearchState] | None] = None

    def __init__(
        self,
        space: SearchSpace | None = None,
        *,
        epochs_per_eval: int = 5,
        recipe: Recipe | dict | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        optimizer: str | None = None,
        seed: int = 0,
        executor: str = "serial",
        workers: int | None = None,
        executor_options: dict | None = None,
        early_rejection: float | None = None,
        verbose: int = 1,
        quiet: bool | None = None,
    ):
        from automl_kit.search.spaces import StageSpace

        if epochs_per_eval < 1:
            raise ValueError(f"epochs_per_eval must be at least 1, got {epochs_per_eval}.")
        recipe = Recipe.from_config(recipe) if isinstance(recipe, dict) else recipe or Recipe()
        # batch_size, learning_rate, optimizer: shorthands for the recipe's fields
        changes = {"batch_size": batch_size, "learning_rate": learning_rate}
        changes["optimizer"] = None if optimizer is None else str(optimizer).lower()
        self.recipe = recipe.with_options(**{k: v for k, v in changes.items() if v is not None})
        if early_rejection is not None and not 0 < early_rejection < 1:
            raise ValueError(
                f"early_rejection is a fraction of the median in (0, 1), got {early_rejection}."
            )
        if quiet is not None:
            warnings.warn(
                "quiet= is deprecated; pass verbose=0 (silent) or verbose=1.",
                DeprecationWarning,
                stacklevel=2,
            )
            verbose = 0 if quiet else verbose
        self.space = space if space is not None else StageSpace()
        self.epochs_per_eval = epochs_per_eval
        self.seed, self.executor_name, self.workers = seed, executor, workers
        # e.g. {"address": "ray://head:10001"}: used, never saved (a run directory is data)
        self.executor_options = dict(executor_options or {})
        self.early_rejection, self.verbose = early_rejection, int(verbose)
        # The search draws only from its own generator: Keras re-seeds the global ``random``.
        self.rng = random.Random(seed)
        self.run: SearchRun | None = None  # the run of the search() under way (or the last)

    @property
    def quiet(self) -> bool:
        """Deprecated: ``verbose == 0``."""
        return self.verbose == 0

    # ---- configuration ----------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor's settings as JSON (``executor_options`` left out: addresses are not data)."""
        return {
            "algorithm": self.algorithm,
            "space": self.space.get_config(),
            "epochs_per_eval": self.epochs_per_eval,
            "recipe": self.recipe.get_config(),
            "seed": self.seed,
            "early_rejection": self.early_rejection,
            "executor": self.executor_name,
            "workers": self.workers,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config: dict) -> Searcher:
        """Rebuild a searcher from :meth:`get_config` (or a saved ``config.json``)."""
        config = dict(config)
        algorithm = config.pop("algorithm", cls.algorithm)
        if algorithm != cls.algorithm:
            raise ValueError(
                f"this config is of a '{algorithm}' search, not '{cls.algorithm}'; "
                "build it with automl_kit.registries.SEARCHERS.get(config['algorithm'])."
            )
        config.pop("data", None)
        space = SearchSpace.from_config(config.pop("space")) if "space" in config else None
        return cls(space, **config)

    def search_config(self) -> dict:
        """The settings that determine the search path (stored in config.json, checked on resume)."""
        return {k: v for k, v in self.get_config().items() if k not in RUNTIME_SETTINGS}

    def validate_budget(self, budget: Budget) -> None:
        """Refuse a budget this algorithm cannot search under (``ValueError`` naming the fix).

        Called first by :meth:`search`, and by the CLI before any work; every budget is
        accepted here, an algorithm with a budget-driven schedule overrides it.
        """

    # ---- the public entry point ---------------------------------------------------------
    def search(
        self,
        x,
        y,
        *,
        validation_data: tuple | None = None,
        time_budget: str | float | None = None,
        max_evaluations: int | None = None,
        run_dir: str | Path | RunDirectory | None = None,
        resume: bool = False,
        extend: bool = False,
    ) -> SearchResult:
        """Search, then return a :class:`SearchResult`; ``resume=True`` continues ``run_dir``.

        ``time_budget`` counts this call's wall-clock time (a resumed search gets it afresh);
        ``max_evaluations`` counts trained candidates, those of a resumed run included.
        ``run_dir`` is a path (claimed with ``RunDirectory.open``: ownership, lock) or a
        ``RunDirectory`` the caller opened, used as is. Resuming a finished run returns its
        saved result and trains nothing; ``extend=True`` (with ``resume=True`` and a new budget)
        continues it, keeping the first result's files in ``result-<n>/``.
        Ctrl-C inside ``graceful_interrupt()`` stops at the next safe point, marks the run
        ``stopped`` and raises :class:`~automl_kit.utils.interrupt.Interrupted`.
        """
        # labels 0..K-1 with every class in training, matching sample shapes, a validation pair
        x, y, x_val, y_val = check_training_data(
            x, y, validation_data, rank=self.space.input_rank()
        )
        budget = Budget(time=time_budget, evaluations=max_evaluations)
        self.validate_budget(budget)
        if extend and not resume:
            raise ValueError("extend=True continues a finished run: pass resume=True as well.")
        fingerprint = self._fingerprint(x, y, x_val, y_val)
        with RunDirectory.claim(run_dir, self.algorithm, resume=resume) as directory:
            self.run = SearchRun(self, directory)
            try:
                return self.run.execute((x, y, x_val, y_val), fingerprint, budget, resume, extend)
            except (Interrupted, KeyboardInterrupt):
                directory.mark_stopped()  # a caller's run too: the search is what stopped
                raise

    # ---- what an algorithm implements ----------------------------------------------------
    def _run(self, state: SearchState | dict | None) -> None:
        """Search until done (return) or the budget is spent (``self.run`` raises
        ``BudgetExhausted``); ``state`` is the one last checkpointed, None on a fresh run."""
        raise NotImplementedError

    def key(self, genes: list) -> str:
        return json.dumps(self.space.canonical(genes))

    @staticmethod
    def _fingerprint(*arrays) -> dict:
        return {
            "shapes": [list(a.shape) for a in arrays],
            "crc32": [zlib.crc32(np.ascontiguousarray(a).tobytes()) for a in arrays],
        }
