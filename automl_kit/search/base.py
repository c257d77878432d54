"""What every search algorithm shares: data checks, budget, cached evaluation, checkpoints, results.

A search algorithm subclasses ``Searcher`` and implements ``_run(state)``, calling
``evaluate_population`` for fitness and ``checkpoint(state)`` at safe points; the base
class turns that into a resumable, budgeted, executor-agnostic search (KerasTuner's
``Oracle``/``Tuner`` split, in one small class).
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import time
import zlib
from functools import partial
from pathlib import Path

import numpy as np

from automl_kit.search._evaluation import EvalTask, Evaluation, evaluate, set_worker_data
from automl_kit.search.result import SearchResult
from automl_kit.search.space import SearchSpace
from automl_kit.utils import (
    Progress,
    RunDirectory,
    check_classification_data,
    parse_duration,
    read_json,
    write_json,
)
from automl_kit.utils.executor import get_executor

EVALUATIONS_FILE = "evaluations.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
MIN_REJECTION_SAMPLES = 3


class SearchStopped(Exception):
    """Raised inside ``_run`` when the time or evaluation budget is spent."""


class Searcher:
    """Base class of the architecture searches (variable-length GA and its rivals)."""

    algorithm = "searcher"

    def __init__(
        self,
        space: SearchSpace | None = None,
        *,
        epochs_per_eval: int = 5,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        seed: int = 0,
        executor: str = "serial",
        workers: int | None = None,
        executor_options: dict | None = None,
        early_rejection: float | None = None,
        quiet: bool = False,
    ):
        from automl_kit.search.spaces import CNNSpace

        if epochs_per_eval < 1 or batch_size < 1:
            raise ValueError("epochs_per_eval and batch_size must be at least 1.")
        if early_rejection is not None and not 0 < early_rejection < 1:
            raise ValueError(
                f"early_rejection is a fraction of the median in (0, 1), got {early_rejection}."
            )
        self.space = space if space is not None else CNNSpace()
        self.epochs_per_eval, self.batch_size, self.learning_rate = (
            epochs_per_eval,
            batch_size,
            learning_rate,
        )
        self.seed, self.executor_name, self.workers = seed, executor, workers
        self.executor_options = dict(executor_options or {})  # e.g. {"address": "ray://head:10001"}
        self.early_rejection, self.quiet = early_rejection, quiet
        # The search draws only from its own generator: Keras re-seeds the global ``random``.
        self.rng = random.Random(seed)

    # ---- configuration ----------------------------------------------------------------
    def get_config(self) -> dict:
        """Everything that determines the search path (stored in config.json, checked on resume)."""
        return {
            "algorithm": self.algorithm,
            "space": self.space.get_config(),
            "epochs_per_eval": self.epochs_per_eval,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
            "early_rejection": self.early_rejection,
        }

    # ---- the public entry point ---------------------------------------------------------
    def search(
        self,
        x,
        y,
        *,
        validation_data: tuple,
        time_budget: str | float | None = None,
        max_evaluations: int | None = None,
        run_dir: str | Path | RunDirectory | None = None,
        resume: bool = False,
    ) -> SearchResult:
        """Search, then return a :class:`SearchResult`; ``resume=True`` continues ``run_dir``.

        ``time_budget`` counts this call's wall-clock time (a resumed search gets it afresh);
        ``max_evaluations`` counts trained candidates, those of a resumed run included.
        """
        rank = self.space.input_rank()
        x, y = check_classification_data(x, y, rank=rank)
        x_val, y_val = check_classification_data(*validation_data, rank=rank, name="x_val")
        if x.shape[1:] != x_val.shape[1:]:
            raise ValueError(
                f"x has samples of shape {x.shape[1:]} but x_val of {x_val.shape[1:]}; they must match."
            )
        if max_evaluations is not None and max_evaluations < 1:
            raise ValueError(f"max_evaluations must be at least 1, got {max_evaluations}.")
        self._budget_seconds = parse_duration(time_budget)
        self._max_evaluations = max_evaluations
        self.run = self._open_run_dir(run_dir, resume, self._fingerprint(x, y, x_val, y_val))
        self._cache: dict[str, Evaluation] = {}
        self._first_epoch: dict[object, list[float]] = {}
        self.history: list[dict] = []
        self.rng = random.Random(
            self.seed
        )  # a second search() with this object takes the same path
        state = self._load(resume)
        self._trained = sum(1 for e in self._cache.values() if e.status != "skipped")
        self._started = time.time()
        self._deadline = self._started + self._budget_seconds if self._budget_seconds else None
        self.progress = Progress(label=self.algorithm, quiet=self.quiet)
        self.stop_reason = ""
        initargs = (x, y, x_val, y_val)
        with get_executor(
            self.executor_name,
            initializer=set_worker_data,
            initargs=initargs,
            workers=self.workers,
            **self.executor_options,
        ) as ex:
            self._executor = ex
            try:
                self._run(state)
            except SearchStopped as stop:
                self.stop_reason = str(stop)
        best = self.best()
        if best is None:
            raise RuntimeError(
                f"no candidate trained successfully ({self.stop_reason or 'all failed'}); "
                "see evaluations.jsonl for the reasons, or raise the budget."
            )
        result = SearchResult(
            self.space,
            best,
            self.history,
            self.run,
            self.get_config(),
            stop_reason=self.stop_reason,
            seconds=time.time() - self._started,
        )
        result.save()
        return result

    # ---- services for subclasses -------------------------------------------------------
    def _run(self, state: dict | None) -> None:
        raise NotImplementedError

    def key(self, genes: list) -> str:
        return json.dumps(self.space.canonical(genes))

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
        (mutation-only evolution); matching layers start from its weights.
        Each finished evaluation is appended to ``evaluations.jsonl`` as it arrives, so a
        killed search loses none of them. Raises ``SearchStopped`` once the budget is spent.
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
        if self._max_evaluations is not None:
            room = max(0, self._max_evaluations - self._trained)
            todo = dict(list(todo.items())[:room])

        def tasks():
            for k, (genes, parent) in todo.items():
                yield EvalTask(
                    key=k,
                    genes=list(genes),
                    space_config=self.space.get_config(),
                    epochs=epochs or self.epochs_per_eval,
                    batch_size=self.batch_size,
                    learning_rate=self.learning_rate,
                    seed=self.seed,
                    model_path=str(self.model_path(k)),
                    parent_model=parent,
                    deadline=self._deadline,
                    reject_below=self._rejection_threshold(group),
                    group=group,
                    inherit_head=inherit_head,
                )

        run = partial(evaluate, callbacks=tuple(callbacks)) if callbacks else evaluate
        for _, evaluation in self._executor.imap_unordered(run, tasks()):
            if evaluation.finished:
                self._store(evaluation)
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
            raise SearchStopped(self._budget_message())
        out = [self._cache[k] for k in keys]
        return out

    def report(self, message: str) -> None:
        """One progress line: the algorithm's own ``message``, then the best so far, evaluations and budget."""
        best = self.best()
        budget = ""
        if self._deadline is not None:
            budget = f", {max(0.0, self._deadline - time.time()) / 60:.1f} min budget left"
        self.progress.step(
            f"{message} | best so far {best.fitness if best else 0:.4f} | {self._trained} evaluations{budget}"
        )

    def budget_used(self) -> float | None:
        """Share of the budget spent, in [0, 1]: the larger of time and evaluations; ``None`` without one."""
        shares = []
        if self._deadline is not None:
            shares.append(self.elapsed() / self._budget_seconds)
        if self._max_evaluations is not None:
            shares.append(self._trained / self._max_evaluations)
        return min(1.0, max(shares)) if shares else None

    def check_budget(self) -> None:
        if (self.budget_used() or 0.0) >= 1.0:
            raise SearchStopped(self._budget_message())

    def checkpoint(self, state: dict) -> None:
        """Persist the algorithm's state and the generator's position (JSON, atomic)."""
        write_json(
            self.run.path(CHECKPOINT_FILE),
            {"state": state, "rng": _rng_to_json(self.rng), "history": self.history},
        )

    def model_path(self, key: str) -> Path:
        return self.run.path(f"models/{hashlib.sha1(key.encode()).hexdigest()[:16]}.keras")

    def best(self) -> Evaluation | None:
        done = [e for e in self._cache.values() if e.status == "ok"]
        return max(done, key=lambda e: e.fitness) if done else None

    def elapsed(self) -> float:
        return time.time() - self._started

    # ---- internals ---------------------------------------------------------------------
    def _store(self, evaluation: Evaluation, *, persist: bool = True) -> None:
        self._cache[evaluation.key] = evaluation
        if evaluation.val_accuracy:
            self._first_epoch.setdefault(evaluation.group, []).append(evaluation.val_accuracy[0])
        if not persist:
            return
        self._trained += 1
        with open(self.run.path(EVALUATIONS_FILE), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(evaluation.to_dict()) + "\n")

    def _rejection_threshold(self, group) -> float | None:
        seen = self._first_epoch.get(group, [])
        if self.early_rejection is None or len(seen) < MIN_REJECTION_SAMPLES:
            return None
        return self.early_rejection * statistics.median(seen)

    def _budget_message(self) -> str:
        if self._max_evaluations is not None and self._trained >= self._max_evaluations:
            return f"evaluation budget of {self._max_evaluations} spent"
        return f"time budget of {self._budget_seconds:.0f} s spent"

    @staticmethod
    def _fingerprint(*arrays) -> dict:
        return {
            "shapes": [list(a.shape) for a in arrays],
            "crc32": [zlib.crc32(np.ascontiguousarray(a).tobytes()) for a in arrays],
        }

    def _open_run_dir(self, run_dir, resume: bool, fingerprint: dict) -> RunDirectory:
        config = {**self.get_config(), "data": fingerprint}
        if resume:
            if run_dir is None or not (Path(run_dir) / "config.json").is_file():
                raise ValueError(
                    f"cannot resume: {run_dir} holds no config.json of an earlier search."
                )
            run = RunDirectory(run_dir)
            saved = run.read_config()
            changed = sorted(
                k
                for k in config
                if json.dumps(saved.get(k), sort_keys=True) != json.dumps(config[k], sort_keys=True)
            )
            if changed:
                raise ValueError(
                    f"cannot resume {run_dir}: {', '.join(changed)} differ from the saved search; "
                    "pass the same settings and data, or start a new run directory."
                )
            return run
        run = (
            run_dir
            if isinstance(run_dir, RunDirectory)
            else RunDirectory.create(self.algorithm, path=run_dir)
        )
        if (run.root / EVALUATIONS_FILE).exists():
            raise ValueError(
                f"{run.root} already holds a search; pass resume=True to continue it or choose another folder."
            )
        run.write_config(config)
        return run

    def _load(self, resume: bool) -> dict | None:
        if not resume:
            return None
        path = self.run.root / EVALUATIONS_FILE
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if (
                    line.strip()
                ):  # a line cut by a kill is incomplete JSON: that evaluation is redone
                    try:
                        e = Evaluation.from_dict(json.loads(line))
                    except json.JSONDecodeError:
                        continue
                    self._store(e, persist=False)
        checkpoint = self.run.root / CHECKPOINT_FILE
        if not checkpoint.exists():
            return None
        saved = read_json(checkpoint)
        self.rng.setstate(_rng_from_json(saved["rng"]))
        self.history = saved["history"]
        return saved["state"]


def _rng_to_json(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from_json(data: list) -> tuple:
    return data[0], tuple(data[1]), data[2]
