"""The run of a search: the folder, the evaluations, the budget, the checkpoints, the result.

A :class:`~automl_kit.search.base.Searcher` is the algorithm (what to evaluate next); a
:class:`SearchRun` is everything a run owns. During ``search()`` the searcher's ``run`` is its
``SearchRun``: the algorithm asks it to ``evaluate_population(...)`` (cached candidates are not
trained again, every result is logged as it arrives), is told the evaluations, and calls
``checkpoint(state)`` at its safe points; the run keeps the budget and writes everything down.

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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_kit.search._evaluation import EvalTask, Evaluation, evaluate, set_worker_data
from automl_kit.search.result import SearchResult
from automl_kit.utils import Progress, RunDirectory, to_jsonable
from automl_kit.utils.budget import Budget, BudgetExhausted
from automl_kit.utils.executor import get_executor
from automl_kit.utils.interrupt import raise_if_stop_requested

if TYPE_CHECKING:
    from automl_kit.search.base import Searcher

EVALUATIONS_FILE = "evaluations.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
MIN_REJECTION_SAMPLES = 3
# what a finished search leaves; ``extend=True`` keeps a copy under ``result-<n>/``
RESULT_FILES = (
    "results.json",
    "best_chromosome.json",
    "best_architecture.txt",
    "history.csv",
    "fitness.png",
    "final_model.keras",
)


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


class SearchRun:
    """One search of ``searcher`` in ``directory`` (a claimed :class:`RunDirectory`).

    What the algorithm reads and calls: :meth:`evaluate_population`, :meth:`checkpoint`,
    :meth:`check_budget`, :meth:`report`, :meth:`evaluation`, :meth:`best`,
    :meth:`budget_used`, ``budget``, ``history`` (one row per candidate asked for), ``resuming``,
    ``workers``, ``progress`` (for extra lines) and ``stop_reason`` (why the search ended, set by
    the run or the algorithm).
    """

    def __init__(self, searcher: Searcher, directory: RunDirectory):
        self.searcher, self.directory = searcher, directory
        self.budget = Budget()
        self.history: list[dict] = []
        self.stop_reason = ""
        # whether this run continues a saved one (peers reload their tuner state then)
        self.resuming = False
        self.progress = Progress(label=searcher.algorithm, verbose=0)
        self._cache: dict[str, Evaluation] = {}
        self._first_epoch: dict[object, list[float]] = {}
        self._last_state: dict | None = None
        self._last_rng: tuple | None = None
        self._executor = None

    def execute(
        self, data: tuple, fingerprint: dict, budget: Budget, resume: bool, extend: bool
    ) -> SearchResult:
        """Run the algorithm in the folder: check or write the config, reload what a resumed
        run holds, search under ``budget`` and save the result; the :class:`SearchResult`."""
        run = self.directory
        config = {**self.searcher.search_config(), "data": fingerprint}
        if resume and not any((run.root / f).exists() for f in ("config.json", EVALUATIONS_FILE)):
            resume = False  # killed between claiming the folder and writing its config: start it
        if resume:
            self._check_same_search(config)
        else:
            if (run.root / EVALUATIONS_FILE).exists():
                raise ValueError(
                    f"{run.root} already holds a search; pass resume=True to continue it or choose another folder."
                )
            run.write_config(config)
        self.resuming = resume
        # a second search() with the same searcher takes the same path
        self.searcher.rng = random.Random(self.searcher.seed)
        if resume and run.status == "finished" and not extend:
            return self.saved_result()
        extending = extend and run.status == "finished"
        kept = self._keep_earlier_result() if extending else None
        state = self._load(resume)
        done_before = self.evaluation_count
        self.budget = budget.start(spent=done_before)
        if extending and self.budget.remaining_evaluations == 0:
            # the new budget allows nothing: the finished run and its result stay as they were
            shutil.rmtree(kept)
            return self._nothing_new(self.budget.message())
        run.mark_running()
        started = time.time()
        self.progress = Progress(label=self.searcher.algorithm, verbose=self.searcher.verbose)
        with get_executor(
            self.searcher.executor_name,
            initializer=set_worker_data,
            initargs=data,
            workers=self.searcher.workers,
            **self.searcher.executor_options,
        ) as ex:
            self._executor = ex
            try:
                self.searcher._run(state)
            except BudgetExhausted as stop:
                self.stop_reason = str(stop)
        if extending and self.evaluation_count == done_before:
            shutil.rmtree(kept)
            run.mark_finished()
            return self._nothing_new(self.stop_reason or "the search stopped by itself")
        best = self.best()
        if best is None:
            raise RuntimeError(
                f"no candidate trained successfully ({self.stop_reason or 'all failed'}); "
                "see evaluations.jsonl for the reasons, or raise the budget."
            )
        seconds = time.time() - started
        self._write_checkpoint(self._last_state, finished=True, seconds=seconds)
        result = self._result(best, seconds)
        result.save()
        run.mark_finished()
        return result

    # ---- what the algorithm calls ----------------------------------------------------
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
        if callbacks and self.searcher.executor_name != "serial":
            raise ValueError(
                f"{self.searcher.algorithm} reports every epoch to its tuner: use executor='serial'."
            )
        parents = (
            parent_model if isinstance(parent_model, list) else [parent_model] * len(population)
        )
        suffix = (
            "" if epochs is None else f"@{epochs}"
        )  # another training budget is another candidate
        keys = [self.searcher.key(g) + suffix for g in population]
        todo = {k: (g, p) for k, g, p in zip(keys, population, parents) if k not in self._cache}
        room = self.budget.remaining_evaluations
        if room is not None:
            todo = dict(list(todo.items())[:room])

        def tasks():
            for k, (genes, parent) in todo.items():
                yield EvalTask(
                    key=k,
                    genes=list(genes),
                    space_config=self.searcher.space.get_config(),
                    epochs=epochs or self.searcher.epochs_per_eval,
                    recipe=self.searcher.recipe.get_config(),
                    seed=self.searcher.seed,
                    model_path=str(self.model_path(k)),
                    parent_model=str(self.directory.resolve(parent)) if parent else None,
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
        self._last_rng = self.searcher.rng.getstate()
        self._write_checkpoint(self._last_state)
        raise_if_stop_requested("after a checkpoint")

    @property
    def workers(self) -> int:
        """How many candidates the executor trains at once."""
        return self._executor.workers

    def model_path(self, key: str) -> Path:
        return self.directory.path(f"models/{hashlib.sha1(key.encode()).hexdigest()[:16]}.keras")

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
                record["model_path"] = self.directory.relative(record["model_path"])
            self.directory.append_jsonl(EVALUATIONS_FILE, record)
            self.budget.count()

    def _rejection_threshold(self, group) -> float | None:
        seen = self._first_epoch.get(group, [])
        if self.searcher.early_rejection is None or len(seen) < MIN_REJECTION_SAMPLES:
            return None
        return self.searcher.early_rejection * statistics.median(seen)

    def _write_checkpoint(self, state, *, finished: bool = False, seconds: float = 0.0) -> None:
        payload: dict[str, Any] = {
            "search": state.to_json() if isinstance(state, SearchState) else state,
            "history": self.history,
        }
        rng = self.searcher.rng
        if finished:
            payload.update(finished=True, stop_reason=self.stop_reason, seconds=seconds)
            # the generator as it was at that state, so that extending the run continues from it
            rng = random.Random()
            rng.setstate(self._last_rng or self.searcher.rng.getstate())
        self.directory.write_checkpoint(payload, rng, name=CHECKPOINT_FILE)

    def _result(self, best: Evaluation, seconds: float) -> SearchResult:
        return SearchResult(
            self.searcher.space,
            best,
            self.history,
            self.directory,
            self.searcher.get_config(),
            stop_reason=self.stop_reason,
            seconds=seconds,
            evaluations=self.evaluation_count,
        )

    def _check_same_search(self, config: dict) -> None:
        run = self.directory
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
        for record in self.directory.read_jsonl(EVALUATIONS_FILE):
            evaluation = Evaluation.from_dict(record)
            if evaluation.model_path:  # in memory, paths are usable as they are
                evaluation.model_path = str(self.directory.resolve(evaluation.model_path))
            self._store(evaluation, persist=False)

    def _load(self, resume: bool) -> SearchState | dict | None:
        """Cached evaluations, history and generator of a resumed run; the algorithm's state.

        Without a checkpoint (deleted because corrupt) the search replays from its start: every
        logged evaluation is reused, so the replay trains nothing twice.
        """
        if not resume:
            return None
        self._load_evaluations()
        if not self.directory.has_checkpoint(CHECKPOINT_FILE):
            return None
        saved, rng_state = self.directory.read_checkpoint(CHECKPOINT_FILE)
        if rng_state is not None:
            self.searcher.rng.setstate(rng_state)
        self.history = list(saved.get("history", []))
        state = saved.get("search", saved.get("state"))  # "state": the layout before SearchState
        if state is None or self.searcher.State is None:
            return state
        return self.searcher.State.from_json(state)

    def saved_result(self) -> SearchResult:
        """The result of a finished run, rebuilt from its files; nothing is trained."""
        run = self.directory
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
        result = self._result(best, float(saved.get("seconds", 0.0)))
        result.from_earlier_run = True
        return result

    def _nothing_new(self, why: str) -> SearchResult:
        """The saved result of a finished run whose extension trained nothing (``from_earlier_run``)."""
        result = self.saved_result()
        self.stop_reason = result.stop_reason = (
            f"the extension trained nothing new ({why}; {self.evaluation_count} evaluations "
            "done); the earlier result is kept as it was. Give a larger budget: "
            "--max-evaluations counts every evaluation of the run, earlier ones included"
        )
        return result

    def _keep_earlier_result(self) -> Path:
        """Copy a finished run's result files to ``result-<n>/`` before extending it."""
        run = self.directory
        n = 1
        while (run.root / f"result-{n}").exists():
            n += 1
        keep = run.root / f"result-{n}"
        keep.mkdir()
        for name in (*RESULT_FILES, CHECKPOINT_FILE):
            if (run.root / name).is_file():
                shutil.copy2(run.root / name, keep / name)
        return keep
