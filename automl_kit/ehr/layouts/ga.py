"""The permutation GA of Xiao (thesis Sec. 5.2.1, Algorithm 3), driven by DEAP.

The chromosome is the unrolled grid (Fig. 5.2): a permutation of ``range(rows * cols)`` whose
values below ``n_features`` are features and the rest empty cells. Per generation (Alg. 3):
evaluate every layout (:class:`~automl_kit.ehr.fitness.LayoutFitness`, vectorised over the
population), sort, keep the ``survivors`` fittest plus as many random less-fit ones, and fill the
population with children of random pairs of those: the modified crossover (Fig. 5.3: child a
takes a prefix of parent a, then parent b's remaining genes in parent b's order; child b
likewise) followed by the swap mutation (Fig. 5.4). The best layout ever seen is returned.

Runs are budgeted (``generations`` and/or ``time_budget``, an
:class:`~automl_kit.utils.budget.Budget` counting generations), stop early after ``patience``
generations without improvement, and are resumable: with a ``run_dir`` the population, the best
layout, the history and the generator's state are checkpointed (atomic JSON) every
``checkpoint_every`` generations and at Ctrl-C (:mod:`automl_kit.utils.interrupt`), so
``resume=True`` continues the very run an uninterrupted call would have made.

>>> import numpy as np
>>> a, b = np.array([0, 1, 2, 3, 4]), np.array([4, 3, 2, 1, 0])
>>> [c.tolist() for c in ordered_crossover(a, b, 2)]
[[0, 1, 4, 3, 2], [4, 3, 0, 1, 2]]
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
from deap import base, tools

from automl_kit.ehr.fitness import to_layout
from automl_kit.ehr.layouts.base import LayoutMaker, LayoutProblem, LayoutResult
from automl_kit.utils.budget import Budget
from automl_kit.utils.interrupt import raise_if_stop_requested, stop_requested
from automl_kit.utils.io import read_json, to_jsonable
from automl_kit.utils.rundir import CorruptRunError, RunDirectory

CHECKPOINT_FILE = "layout_checkpoint.json"
CONFIG_FILE = "layout_config.json"
COMMAND = "layout"
# settings that do not change the run's path: a resumed run may change them
RUNTIME_SETTINGS = ("verbose", "time_budget", "checkpoint_every", "stop_at_lower_bound")
#: With verbose, a progress line at least this often (seconds).
PROGRESS_SECONDS = 5.0


# ---- the thesis's operators --------------------------------------------------------------
def ordered_crossover(a: np.ndarray, b: np.ndarray, cut: int) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 5.3: child a = ``a[:cut]`` then the genes of ``b`` not yet taken, in ``b``'s order;
    child b = ``b[:cut]`` then ``a``'s remaining genes in ``a``'s order. Both are permutations."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"parents must be 1-D chromosomes of one length, got {a.shape}, {b.shape}."
        )
    if not 0 <= cut <= a.size:
        raise ValueError(f"cut must lie in [0, {a.size}], got {cut}.")

    def child(head, tail):
        taken = np.zeros(a.size, dtype=bool)
        taken[head[:cut]] = True
        return np.concatenate([head[:cut], tail[~taken[tail]]])

    return child(a, b), child(b, a)


def swap_mutation(chromosomes: np.ndarray, rng: np.random.Generator, swaps: int = 1) -> np.ndarray:
    """Fig. 5.4: swap two random genes of each chromosome (row), ``swaps`` times, in place."""
    pop = np.atleast_2d(chromosomes)
    rows = np.arange(len(pop))
    for _ in range(swaps):
        i = rng.integers(pop.shape[1], size=len(pop))
        j = rng.integers(pop.shape[1], size=len(pop))
        pop[rows, i], pop[rows, j] = pop[rows, j], pop[rows, i].copy()
    return chromosomes


def algorithm3_select(
    fitness: np.ndarray, n_fit: int, n_random: int, rng: np.random.Generator
) -> np.ndarray:
    """Alg. 3's survivors: the ``n_fit`` fittest (lowest) indices plus ``n_random`` drawn at
    random from the less fit ones, without replacement."""
    order = np.argsort(fitness, kind="stable")
    rest = order[n_fit:]
    lucky = rng.choice(rest, size=min(n_random, rest.size), replace=False) if rest.size else rest
    return np.concatenate([order[:n_fit], lucky])


@dataclass
class GAState:
    """Where the GA stands between generations (JSON through the checkpoint)."""

    generation: int = 0
    population: list = field(default_factory=list)
    best: list = field(default_factory=list)
    best_fitness: float | None = None
    stale: int = 0
    history: list = field(default_factory=list)
    rng: dict = field(default_factory=dict)  # NumPy's bit_generator.state
    seconds: float = 0.0  # spent in earlier, interrupted calls


class PermutationGA(LayoutMaker):
    """Xiao's layout GA (Alg. 3) with the modified crossover and swap mutation.

    ``population`` layouts; ``survivors`` fittest plus ``survivors`` random less-fit ones are
    kept each generation (default a quarter each); ``generations`` and ``time_budget`` bound the
    run, ``patience`` ends it after that many generations without a better layout;
    ``stop_at_lower_bound`` (default) ends it once the best layout reaches the fitness lower
    bound (no layout can do better);
    ``mutation_swaps`` swaps per child.
    """

    name = "ga"

    def __init__(
        self,
        *,
        population: int = 60,
        survivors: int | None = None,
        generations: int = 1000,
        time_budget: str | float | None = None,
        patience: int | None = None,
        mutation_swaps: int = 1,
        checkpoint_every: int = 100,
        stop_at_lower_bound: bool = True,
        seed: int = 0,
        verbose: int = 0,
    ):
        super().__init__(seed=seed, verbose=verbose)
        if population < 4:
            raise ValueError(
                f"population must be at least 4 (survivors and their children), got {population}."
            )
        survivors = max(1, population // 4) if survivors is None else survivors
        if not 1 <= survivors or 2 * survivors >= population:
            raise ValueError(
                f"survivors (the I of Alg. 3) must be >= 1 with 2 * survivors < population "
                f"({population}) so that children are made, got {survivors}."
            )
        for label, value in (
            ("generations", generations),
            ("mutation_swaps", mutation_swaps),
            ("checkpoint_every", checkpoint_every),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{label} must be a whole number >= 1, got {value!r}.")
        if patience is not None and patience < 1:
            raise ValueError(f"patience counts generations (>= 1) or is None, got {patience}.")
        Budget(time=time_budget)  # a bad duration is refused here, before any work
        self.population, self.survivors = int(population), int(survivors)
        self.generations, self.time_budget, self.patience = int(generations), time_budget, patience
        self.mutation_swaps, self.checkpoint_every = int(mutation_swaps), int(checkpoint_every)
        self.stop_at_lower_bound = bool(stop_at_lower_bound)
        self.toolbox = base.Toolbox()
        self.toolbox.register("mate", ordered_crossover)
        self.toolbox.register("mutate", swap_mutation, swaps=self.mutation_swaps)
        self.toolbox.register("select", algorithm3_select, n_fit=survivors, n_random=survivors)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "population": self.population,
            "survivors": self.survivors,
            "generations": self.generations,
            "time_budget": self.time_budget,
            "patience": self.patience,
            "mutation_swaps": self.mutation_swaps,
            "checkpoint_every": self.checkpoint_every,
            "stop_at_lower_bound": self.stop_at_lower_bound,
        }

    # ---- one generation ------------------------------------------------------------------
    def next_generation(
        self, population: np.ndarray, fitness: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Alg. 3's inner loop: survivors, then mutated children of random survivor pairs."""
        return self._breed(population, fitness, rng)[0]

    def _breed(self, population: np.ndarray, fitness: np.ndarray, rng: np.random.Generator):
        """The next population and the fitness of its first rows (the unchanged survivors)."""
        chosen = self.toolbox.select(fitness, rng=rng)
        parents = population[chosen]
        need = len(population) - len(parents)
        children = []
        while len(children) < need:
            i, j = rng.choice(len(parents), size=2, replace=False)
            cut = int(rng.integers(1, population.shape[1]))
            children.extend(self.toolbox.mate(parents[i], parents[j], cut))
        children = np.array(children[:need])
        self.toolbox.mutate(children, rng)
        return np.concatenate([parents, children]), fitness[chosen]

    # ---- the run -------------------------------------------------------------------------
    def make(
        self,
        problem: LayoutProblem,
        *,
        run_dir: str | RunDirectory | None = None,
        resume: bool = False,
    ) -> LayoutResult:
        """Run the GA on ``problem``; with ``run_dir`` checkpointed, ``resume=True`` continues it."""
        if resume and run_dir is None:
            raise ValueError("resume=True continues a run directory: pass run_dir as well.")
        if run_dir is None:
            return self._make_in(None, problem, resume)
        with RunDirectory.claim(run_dir, COMMAND, resume=resume) as run:
            return self._make_in(run, problem, resume)

    def _make_in(self, run: RunDirectory | None, problem: LayoutProblem, resume: bool):
        config = {
            "maker": {k: v for k, v in self.get_config().items() if k not in RUNTIME_SETTINGS},
            "problem": problem.fingerprint(),
        }
        state = None
        if run is not None:
            state = self._load(run, config) if resume else None
            if state is not None and state.get("finished"):
                result = LayoutResult.from_json(state["result"], state["history"])
                result.from_earlier_run = True
                return result
            run.write_json(CONFIG_FILE, config)
            if run.command == COMMAND:  # its own run, not the ehr command's
                run.mark_running()
        fields = GAState.__dataclass_fields__
        ga_state = GAState(**{k: v for k, v in state.items() if k in fields}) if state else None
        ga_state, stop_reason = self._evolve(problem, ga_state, run)
        best = np.asarray(ga_state.best, dtype=np.int64)
        result = LayoutResult(
            self.name,
            to_layout(best, problem.n_features),
            problem.shape,
            list(problem.features),
            float(ga_state.best_fitness),
            ga_state.history,
            ga_state.seconds,
            stop_reason,
        )
        if run is not None:
            self._checkpoint(run, ga_state, finished=result)
            result.save(run.root)
        return result

    def _evolve(self, problem: LayoutProblem, state: GAState | None, run):
        rng = np.random.default_rng(self.seed)
        cells = problem.cells
        if state is None:
            population = np.array([rng.permutation(cells) for _ in range(self.population)])
            state = GAState(population=population.tolist())
        else:
            rng.bit_generator.state = state.rng
            if self.verbose:
                print(
                    f"layout ga: resumed at generation {state.generation} (best "
                    f"{state.best_fitness:.0f})",
                    flush=True,
                )
        seconds_before = state.seconds
        last_report = time.perf_counter()
        started = time.perf_counter()
        population = np.asarray(state.population, dtype=np.int64)
        budget = Budget(time=self.time_budget, evaluations=self.generations).start(
            spent=state.generation
        )
        self.toolbox.register("evaluate", problem.fitness)
        logbook = tools.Logbook()
        logbook.extend(state.history)
        stop_reason = ""
        carried = None  # fitness of the survivors at the top of the population (not re-evaluated)
        while True:
            if budget.exhausted():
                stop_reason = budget.message().replace("evaluation budget", "generation budget")
                break
            if (
                self.stop_at_lower_bound
                and state.best_fitness is not None
                and (state.best_fitness <= problem.fitness.best_possible)
            ):
                stop_reason = "reached the fitness lower bound"
                break
            if self.patience is not None and state.stale >= self.patience:
                stop_reason = f"no better layout for {self.patience} generations (patience)"
                break
            if carried is None:
                fitness = self.toolbox.evaluate(population)
            else:  # survivors are unchanged: only the children need their fitness
                fitness = np.concatenate(
                    [carried, self.toolbox.evaluate(population[len(carried) :])]
                )
            i = int(np.argmin(fitness))
            if state.best_fitness is None or fitness[i] < state.best_fitness:
                state.best, state.best_fitness, state.stale = (
                    population[i].tolist(),
                    float(fitness[i]),
                    0,
                )
            else:
                state.stale += 1
            logbook.record(
                generation=state.generation,
                best=float(fitness[i]),
                median=float(np.median(fitness)),
                best_so_far=state.best_fitness,
            )
            state.generation += 1
            budget.count()
            population, carried = self._breed(population, fitness, rng)
            now = time.perf_counter()
            # every tenth of the run, and at least every PROGRESS_SECONDS on long runs
            if self.verbose and (
                state.generation % max(1, self.generations // 10) == 0
                or now - last_report >= PROGRESS_SECONDS
            ):
                last_report = now
                print(
                    f"layout ga gen {state.generation}/{self.generations}: best "
                    f"{state.best_fitness:.0f} (lower bound {problem.fitness.best_possible:.0f})",
                    flush=True,
                )
            interrupted = stop_requested()
            if run is not None and (interrupted or state.generation % self.checkpoint_every == 0):
                state.population, state.history = population.tolist(), list(logbook)
                state.rng = rng.bit_generator.state
                state.seconds = seconds_before + time.perf_counter() - started
                self._checkpoint(run, state)
            if interrupted:
                raise_if_stop_requested(
                    f"after layout generation {state.generation} (checkpointed; resume to go on)"
                )
        state.population, state.history = population.tolist(), list(logbook)
        state.rng = rng.bit_generator.state
        state.seconds = seconds_before + time.perf_counter() - started
        return state, stop_reason

    def _checkpoint(self, run: RunDirectory, state: GAState, finished: LayoutResult | None = None):
        payload = to_jsonable(state.__dict__)  # Python's json keeps the 128-bit ints exact
        if finished is not None:
            payload.update(finished=True, result=finished.to_json())
        run.write_checkpoint(payload, None, name=CHECKPOINT_FILE)

    def _load(self, run: RunDirectory, config: dict) -> dict | None:
        if not run.has_checkpoint(CHECKPOINT_FILE):
            return None
        saved = _read_config(run)
        if saved is not None and json.dumps(saved, sort_keys=True) != json.dumps(
            to_jsonable(config), sort_keys=True
        ):
            changed = sorted(
                k
                for k in {**saved.get("maker", {}), **config["maker"]}
                if saved.get("maker", {}).get(k) != config["maker"].get(k)
            ) or ["the features or relations"]
            raise ValueError(
                f"cannot resume the layout search in {run.root}: {', '.join(changed)} differ from "
                "the saved run; pass the same settings and data, or start a new run directory."
            )
        state, _ = run.read_checkpoint(CHECKPOINT_FILE)
        return state


def _read_config(run: RunDirectory) -> dict | None:
    path = run.root / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except ValueError as exc:
        raise CorruptRunError(
            f"{path} is corrupt ({exc}); restore it, or delete it to resume without the check."
        ) from None
