"""What every search algorithm shares: data checks, cached evaluation, resumable runs, results.

A search algorithm subclasses ``Searcher`` and implements ``_run(state)``, calling
``evaluate_population`` for fitness and ``checkpoint(state)`` at safe points; the base
class turns that into a resumable, budgeted, executor-agnostic search (KerasTuner's
``Oracle``/``Tuner`` split, in one small class). The budget is a
:class:`~automl_kit.utils.budget.Budget`, the run directory a
:class:`~automl_kit.utils.rundir.RunDirectory` (ownership, lock, whole-line logs, relative
paths), and an algorithm's state a :class:`SearchState` dataclass that round-trips through JSON.

One count of evaluations, everywhere: the finished candidate trainings recorded in
``evaluations.jsonl`` (one line each, never two for one candidate). The progress lines,
``SearchResult.evaluations`` and the evaluation budget all read it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import shutil
import statistics
import time
import warnings
import zlib
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from automl_kit.search._evaluation import EvalTask, Evaluation, evaluate, set_worker_data
from automl_kit.search.result import SearchResult
from automl_kit.search.space import SearchSpace
from automl_kit.training import Recipe
from automl_kit.utils import Progress, RunDirectory, to_jsonable
from automl_kit.utils.budget import Budget, BudgetExhausted
from automl_kit.utils.executor import get_executor
from automl_kit.utils.interrupt import Interrupted, raise_if_stop_requested
from automl_kit.utils.validation import check_training_data

EVALUATIONS_FILE = "evaluations.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
MIN_REJECTION_SAMPLES = 3
# settings that do not change the search path: not compared when a run is resumed
RUNTIME_SETTINGS = ("executor", "workers", "verbose")
# what a finished search leaves; ``extend=True`` keeps a copy under ``result-<n>/``
RESULT_FILES = (
    "results.json",
    "best_chromosome.json",
    "best_architecture.txt",
    "history.csv",
    "fitness.png",
    "final_model.keras",
)

# The old name of the budget's stop signal, kept importable.
SearchStopped = BudgetExhausted


@dataclasses.dataclass
class SearchState:
    """An algorithm's resumable state: a dataclass of JSON values (subclass it, add fields).

    >>> @dataclasses.dataclass
    ... class RoundState(SearchState):
    ...     round: int = 0
    >>> RoundState.from_json(RoundState(round=3).to_json())
    RoundState(round=3)
    """

    def to_json(self) -> dict:
        return to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: dict) -> SearchState:
        """Rebuild from :meth:`to_json`; keys of an older layout that no field holds are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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
        self.budget = Budget()
        self.stop_reason = ""
        # whether the running search continues a saved one (peers reload their tuner state then)
        self.resuming = False
        self.history: list[dict] = []
        self._cache: dict[str, Evaluation] = {}
        self._first_epoch: dict[object, list[float]] = {}
        self._last_state: dict | None = None
        self._last_rng: tuple | None = None

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
        self.resuming = resume
        fingerprint = self._fingerprint(x, y, x_val, y_val)
        with RunDirectory.claim(run_dir, self.algorithm, resume=resume) as run:
            self.run = run
            try:
                return self._search(run, (x, y, x_val, y_val), fingerprint, budget, resume, extend)
            except (Interrupted, KeyboardInterrupt):
                run.mark_stopped()  # a caller's run too: the search is what stopped
                raise

    def _search(self, run, data, fingerprint, budget, resume, extend) -> SearchResult:
        config = {**self.search_config(), "data": fingerprint}
        if resume and not any((run.root / f).exists() for f in ("config.json", EVALUATIONS_FILE)):
            resume = False  # killed between claiming the folder and writing its config: start it
        if resume:
            self._check_same_search(run, config)
        else:
            if (run.root / EVALUATIONS_FILE).exists():
                raise ValueError(
                    f"{run.root} already holds a search; pass resume=True to continue it or choose another folder."
                )
            run.write_config(config)
        self._cache, self._first_epoch, self.history = {}, {}, []
        self._last_state, self._last_rng, self.stop_reason = None, None, ""
        # a second search() with this object takes the same path
        self.rng = random.Random(self.seed)
        if resume and run.status == "finished" and not extend:
            return self._saved_result(run)
        extending = extend and run.status == "finished"
        kept = self._keep_earlier_result(run) if extending else None
        state = self._load(resume)
        done_before = self.evaluation_count
        self.budget = budget.start(spent=done_before)
        if extending and self.budget.remaining_evaluations == 0:
            # the new budget allows nothing: the finished run and its result stay as they were
            shutil.rmtree(kept)
            return self._nothing_new(run, self.budget.message())
        run.mark_running()
        started = time.time()
        self.progress = Progress(label=self.algorithm, verbose=self.verbose)
        with get_executor(
            self.executor_name,
            initializer=set_worker_data,
            initargs=data,
            workers=self.workers,
            **self.executor_options,
        ) as ex:
            self._executor = ex
            try:
                self._run(state)
            except BudgetExhausted as stop:
                self.stop_reason = str(stop)
        if extending and self.evaluation_count == done_before:
            shutil.rmtree(kept)
            run.mark_finished()
            return self._nothing_new(run, self.stop_reason or "the search stopped by itself")
        best = self.best()
        if best is None:
            raise RuntimeError(
                f"no candidate trained successfully ({self.stop_reason or 'all failed'}); "
                "see evaluations.jsonl for the reasons, or raise the budget."
            )
        seconds = time.time() - started
        self._write_checkpoint(self._last_state, finished=True, seconds=seconds)
        result = self._result(run, best, seconds)
        result.save()
        run.mark_finished()
        return result

    # ---- services for subclasses -------------------------------------------------------
    def _run(self, state: SearchState | dict | None) -> None:
        raise NotImplementedError

    def key(self, genes: list) -> str:
        return json.dumps(self.space.canonical(genes))

    def evaluations(self) -> dict[str, Evaluation]:
        """Every finished evaluation so far, by candidate key (a read-only view: do not modify)."""
        return self._cache

    def evaluation(self, key: str) -> Evaluation:
        """The finished evaluation of the candidate ``key``."""
        return self._cache[key]

    @property
    def evaluation_count(self) -> int:
        """Finished candidate trainings (one line each in ``evaluations.jsonl``)."""
        return len(self._cache)

    def evaluate_population(
        self,
        population: list[list],
        *,
        parent_model: str | list[str | None] | None = None,
        group=0,
        tag: dict | None = None,
        epochs: int | None = None,
        inherit_head: bool = False,
        callbacks: tuple = (),
    ) -> list[Evaluation]:
        """Fitness of every chromosome, in order; cached ones are not trained again.

        ``parent_model`` is one ``.keras`` path for all (a GA phase) or one per chromosome
        (mutation-only evolution), absolute or relative to the run directory (as checkpoints
        store them); matching layers start from its weights. The evaluations returned hold
        absolute model paths; ``evaluations.jsonl`` stores them relative to the run directory.
        Each finished evaluation is appended to ``evaluations.jsonl`` as it arrives, so a
        killed search loses none of them. Raises ``BudgetExhausted`` once the budget is spent.
        ``epochs`` overrides ``epochs_per_eval`` (and becomes part of the cache key);
        ``callbacks`` are extra Keras callbacks, which only the serial executor can run.
        """
        if callbacks and self.executor_name != "serial":
            raise ValueError(
                f"{self.algorithm} reports every epoch to its tuner: use executor='serial'."
            )
        parents = (
            parent_model if isinstance(parent_model, list) else [parent_model] * len(population)
        )
        suffix = (
            "" if epochs is None else f"@{epochs}"
        )  # another training budget is another candidate
        keys = [self.key(g) + suffix for g in population]
        todo = {k: (g, p) for k, g, p in zip(keys, population, parents) if k not in self._cache}
        room = self.budget.remaining_evaluations
        if room is not None:
            todo = dict(list(todo.items())[:room])

        def tasks():
            for k, (genes, parent) in todo.items():
                yield EvalTask(
                    key=k,
                    genes=list(genes),
                    space_config=self.space.get_config(),
                    epochs=epochs or self.epochs_per_eval,
                    recipe=self.recipe.get_config(),
                    seed=self.seed,
                    model_path=str(self.model_path(k)),
                    parent_model=str(self.run.resolve(parent)) if parent else None,
                    deadline=self.budget.deadline,
                    reject_below=self._rejection_threshold(group),
                    group=group,
                    inherit_head=inherit_head,
                )

        run = partial(evaluate, callbacks=tuple(callbacks)) if callbacks else evaluate
        for _, evaluation in self._executor.imap_unordered(run, tasks()):
            if evaluation.finished:
                self._store(evaluation)
                raise_if_stop_requested("after an evaluation")  # it is logged: a safe point
        fresh = set(todo)
        for i, k in enumerate(keys):
            if k not in self._cache:
                continue  # stopped by the budget: rows of the finished ones are still recorded
            e = self._cache[k]
            self.history.append(
                {
                    **(tag or {}),
                    "individual": i,
                    "fitness": e.fitness,
                    "status": e.status,
                    "trained_now": k in fresh and not fresh.discard(k),
                    "epochs": e.epochs,
                    "seconds": round(e.seconds, 3),
                    "params": e.params,
                    "transferred_layers": e.transferred_layers,
                    "reason": e.reason,
                    "genes": e.genes,
                }
            )
        if any(k not in self._cache for k in keys):
            raise BudgetExhausted(self.budget.message())
        return [self._cache[k] for k in keys]

    def report(self, message: str) -> None:
        """One progress line: the algorithm's own ``message``, then the best so far, evaluations and budget."""
        best = self.best()
        budget = ""
        if self.budget.remaining_seconds is not None:
            budget = f", {self.budget.remaining_seconds / 60:.1f} min budget left"
        self.progress.step(
            f"{message} | best so far {best.fitness if best else 0:.4f} | "
            f"{self.evaluation_count} evaluations{budget}"
        )

    def budget_used(self) -> float | None:
        """Share of the budget spent, in [0, 1] (see :meth:`Budget.used`)."""
        return self.budget.used()

    def check_budget(self) -> None:
        """Raise ``BudgetExhausted`` once the budget is spent (the search then ends normally)."""
        self.budget.check()

    def checkpoint(self, state: SearchState | dict | None) -> None:
        """Persist the algorithm's state and the generator's position (JSON, atomic); a safe point."""
        # a snapshot: the algorithm keeps changing ``state`` after this safe point
        self._last_state = state.to_json() if isinstance(state, SearchState) else to_jsonable(state)
        self._last_rng = self.rng.getstate()
        self._write_checkpoint(self._last_state)
        raise_if_stop_requested("after a checkpoint")

    def model_path(self, key: str) -> Path:
        return self.run.path(f"models/{hashlib.sha1(key.encode()).hexdigest()[:16]}.keras")

    def best(self) -> Evaluation | None:
        done = [e for e in self._cache.values() if e.status == "ok"]
        return max(done, key=lambda e: e.fitness) if done else None

    def elapsed(self) -> float:
        return self.budget.elapsed()

    # ---- internals ---------------------------------------------------------------------
    def _store(self, evaluation: Evaluation, *, persist: bool = True) -> None:
        self._cache[evaluation.key] = evaluation
        if evaluation.val_accuracy:
            self._first_epoch.setdefault(evaluation.group, []).append(evaluation.val_accuracy[0])
        if persist:
            record = evaluation.to_dict()
            if record["model_path"]:  # stored relative: a moved run directory still resumes
                record["model_path"] = self.run.relative(record["model_path"])
            self.run.append_jsonl(EVALUATIONS_FILE, record)
            self.budget.count()

    def _rejection_threshold(self, group) -> float | None:
        seen = self._first_epoch.get(group, [])
        if self.early_rejection is None or len(seen) < MIN_REJECTION_SAMPLES:
            return None
        return self.early_rejection * statistics.median(seen)

    def _write_checkpoint(self, state, *, finished: bool = False, seconds: float = 0.0) -> None:
        payload: dict[str, Any] = {
            "search": state.to_json() if isinstance(state, SearchState) else state,
            "history": self.history,
        }
        rng = self.rng
        if finished:
            payload.update(finished=True, stop_reason=self.stop_reason, seconds=seconds)
            # the generator as it was at that state, so that extending the run continues from it
            rng = random.Random()
            rng.setstate(self._last_rng or self.rng.getstate())
        self.run.write_checkpoint(payload, rng, name=CHECKPOINT_FILE)

    def _result(self, run: RunDirectory, best: Evaluation, seconds: float) -> SearchResult:
        return SearchResult(
            self.space,
            best,
            self.history,
            run,
            self.get_config(),
            stop_reason=self.stop_reason,
            seconds=seconds,
            evaluations=self.evaluation_count,
        )

    @staticmethod
    def _fingerprint(*arrays) -> dict:
        return {
            "shapes": [list(a.shape) for a in arrays],
            "crc32": [zlib.crc32(np.ascontiguousarray(a).tobytes()) for a in arrays],
        }

    def _check_same_search(self, run: RunDirectory, config: dict) -> None:
        if not (run.root / "config.json").is_file():
            raise ValueError(
                f"cannot resume: {run.root} holds no config.json of an earlier search."
            )
        saved = run.read_config()
        saved.setdefault("optimizer", "adam")  # runs saved before it was a setting used Adam
        changed = sorted(
            k
            for k in config
            if json.dumps(saved.get(k), sort_keys=True) != json.dumps(config[k], sort_keys=True)
        )
        if changed:
            raise ValueError(
                f"cannot resume {run.root}: {', '.join(changed)} differ from the saved search; "
                "pass the same settings and data, or start a new run directory."
            )

    def _load_evaluations(self) -> None:
        for record in self.run.read_jsonl(EVALUATIONS_FILE):
            evaluation = Evaluation.from_dict(record)
            if evaluation.model_path:  # in memory, paths are usable as they are
                evaluation.model_path = str(self.run.resolve(evaluation.model_path))
            self._store(evaluation, persist=False)

    def _load(self, resume: bool) -> SearchState | dict | None:
        """Cached evaluations, history and generator of a resumed run; the algorithm's state.

        Without a checkpoint (deleted because corrupt) the search replays from its start: every
        logged evaluation is reused, so the replay trains nothing twice.
        """
        if not resume:
            return None
        self._load_evaluations()
        if not self.run.has_checkpoint(CHECKPOINT_FILE):
            return None
        saved, rng_state = self.run.read_checkpoint(CHECKPOINT_FILE)
        if rng_state is not None:
            self.rng.setstate(rng_state)
        self.history = list(saved.get("history", []))
        state = saved.get("search", saved.get("state"))  # "state": the layout before SearchState
        if state is None or self.State is None:
            return state
        return self.State.from_json(state)

    def _saved_result(self, run: RunDirectory) -> SearchResult:
        """The result of a finished run, rebuilt from its files; nothing is trained."""
        self._load_evaluations()
        saved: dict = {}
        if run.has_checkpoint(CHECKPOINT_FILE):
            saved, _ = run.read_checkpoint(CHECKPOINT_FILE)
        self.history = list(saved.get("history", []))
        best = self.best()
        if best is None:
            raise RuntimeError(f"{run.root} is marked finished but holds no successful candidate.")
        earlier = saved.get("stop_reason") or "finished"
        self.stop_reason = (
            f"finished earlier ({earlier}); nothing was trained: pass extend=True "
            "(--extend) with a new budget to continue it"
        )
        result = self._result(run, best, float(saved.get("seconds", 0.0)))
        result.from_earlier_run = True
        return result

    def _nothing_new(self, run: RunDirectory, why: str) -> SearchResult:
        """The saved result of a finished run whose extension trained nothing (``from_earlier_run``)."""
        result = self._saved_result(run)
        self.stop_reason = result.stop_reason = (
            f"the extension trained nothing new ({why}; {self.evaluation_count} evaluations "
            "done); the earlier result is kept as it was. Give a larger budget: "
            "--max-evaluations counts every evaluation of the run, earlier ones included"
        )
        return result

    def _keep_earlier_result(self, run: RunDirectory) -> Path:
        """Copy a finished run's result files to ``result-<n>/`` before extending it."""
        n = 1
        while (run.root / f"result-{n}").exists():
            n += 1
        keep = run.root / f"result-{n}"
        keep.mkdir()
        for name in (*RESULT_FILES, CHECKPOINT_FILE):
            if (run.root / name).is_file():
                shutil.copy2(run.root / name, keep / name)
        return keep
