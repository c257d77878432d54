"""The variable-length genetic algorithm of Xiao (thesis Part 2, Fig. 2.1), driven by DEAP.

Per generation: evaluate; sort; the fittest ``survival_rate`` survive; each less-fit one
survives with probability ``weak_survival``; each survivor mutates one gene of the phase's
segment (its newest block) with probability ``mutation_rate``; uniform per-gene crossover of two
random survivors fills the population. Survivors keep their trained weights and fitness (the
cache). At the end of a phase its best grows by one random block per new individual, whose model
inherits the best model's weights.

``schedule`` decides how long a phase lasts and when the search ends:

* ``"thesis"`` (Xiao): every phase runs ``generations`` generations of ``population`` individuals
  (20 unless given), and the search stops when a phase's best falls more than ``stop_threshold``
  below the best of all earlier phases (Sec. 2.3.5), at ``max_phases`` or when the budget is
  spent. Under a budget of a few minutes it spends everything on phase 0 and never grows.
* ``"paced"`` (ours) shares a time or evaluation budget among the first ``budget_phases`` phases
  (4 unless given): phase ``p`` may spend ``1 / (budget_phases - p)`` of the budget left when it
  began and, once it has trained 4 candidates (its population if smaller), one of them
  successfully, ends before a candidate (a batch of ``workers`` with parallel workers) whose
  training would overrun that share, mid-generation if need be. A phase's best is the best of all its
  candidates. A phase whose best falls more than ``stop_threshold`` below the earlier best does
  not end the search: the next phase grows from the best phase so far instead, so the search
  spends its budget (or stops at ``max_phases``). ``population`` is 4 unless given: a few minutes
  on a CPU train a dozen candidates or so, and a small population lets selection act within a
  phase. It needs a time or evaluation budget.
* ``"auto"`` (the default): paced when ``search`` gets a time or evaluation budget, thesis
  otherwise.

``phase_patience`` (our addition; ``None`` is the thesis) also ends a phase once its best fitness
has not improved for that many generations. The run's ``stop_reason`` says why it ended.

>>> VariableLengthGA(schedule="paced").schedule_under(Budget(time="2m"))
'paced'
>>> VariableLengthGA().schedule_under(Budget()), VariableLengthGA().population_size
('thesis', 20)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deap import base, creator

from automl_kit.search.base import Searcher, SearchState
from automl_kit.utils.budget import Budget

# At import time, so spawned executor workers see the same classes (DEAP's creator is global).
if not hasattr(creator, "VLGAFitness"):
    creator.create("VLGAFitness", base.Fitness, weights=(1.0,))
    creator.create("VLGAIndividual", list, fitness=creator.VLGAFitness)

SCHEDULES = ("auto", "paced", "thesis")
THESIS_POPULATION = 20  # Xiao's
PACED_POPULATION = 4  # best paced setting on MNIST at 5 min (benchmarks/README.md)
PACED_PHASES = 4  # the phases that share a budget unless budget_phases says otherwise
# a paced phase trains at least this many candidates (fewer if its population is smaller) before
# its share can end it: on digits at 2 min, one random candidate a phase grew poor models
PHASE_MINIMUM = 4


@dataclass
class VLGAState(SearchState):
    """Where the variable-length GA stands: the phase, its generation and population.

    ``parent_model`` and the ``model_path`` of each ``phase_best`` entry are relative to the
    run directory; ``phase_start_used`` is the budget share spent when the phase began.
    """

    phase: int = 0
    generation: int = 0
    population: list[list] = field(default_factory=list)
    parent_model: str | None = None
    phase_best: list[dict] = field(default_factory=list)
    phase_start_used: float = 0.0
    phase_best_so_far: float = -1.0
    stale_generations: int = 0


class VariableLengthGA(Searcher):
    """Grow CNNs (or dense nets) phase by phase with weight transfer (schedules: module docstring).

    >>> from automl_kit.search import VariableLengthGA, CNNSpace
    >>> ga = VariableLengthGA(CNNSpace.compact(), seed=0)   # paced under the budget below
    >>> result = ga.search(x, y, validation_data=(x_val, y_val), time_budget="2m")  # doctest: +SKIP
    >>> result.describe(), result.stop_reason                                       # doctest: +SKIP
    """

    algorithm = "vlga"
    options = frozenset(
        {
            "population",
            "generations",
            "stop_threshold",
            "max_phases",
            "phase_patience",
            "schedule",
            "budget_phases",
        }
    )
    State = VLGAState

    def __init__(
        self,
        space=None,
        *,
        population: int | None = None,
        generations: int = 5,
        survival_rate: float = 0.5,
        weak_survival: float = 0.2,
        mutation_rate: float = 0.2,
        stop_threshold: float = 0.01,
        max_phases: int | None = None,
        phase_patience: int | None = None,
        schedule: str = "auto",
        budget_phases: int | None = None,
        **kwargs,
    ):
        super().__init__(space, **kwargs)
        if population is not None and population < 2:
            raise ValueError(
                f"population must be at least 2 (crossover needs two parents), got {population}."
            )
        if generations < 1:
            raise ValueError(f"generations must be at least 1, got {generations}.")
        for name, value in (
            ("survival_rate", survival_rate),
            ("weak_survival", weak_survival),
            ("mutation_rate", mutation_rate),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {value}.")
        if max_phases is not None and max_phases < 1:
            raise ValueError(f"max_phases must be at least 1, got {max_phases}.")
        if phase_patience is not None and phase_patience < 1:
            raise ValueError(
                f"phase_patience counts generations without improvement (>= 1), got {phase_patience}."
            )
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}.")
        if budget_phases is not None and budget_phases < 1:
            raise ValueError(
                f"budget_phases is how many phases share the budget (>= 1), got {budget_phases}."
            )
        if budget_phases is not None and schedule == "thesis":
            raise ValueError(
                "budget_phases paces the phases, which schedule='thesis' does not: drop "
                "budget_phases or use schedule='paced' (or 'auto')."
            )
        self.phase_patience, self.schedule, self.budget_phases = (
            phase_patience,
            schedule,
            budget_phases,
        )
        self.population, self.generations = population, generations
        self.survival_rate, self.weak_survival, self.mutation_rate = (
            survival_rate,
            weak_survival,
            mutation_rate,
        )
        self.stop_threshold, self.max_phases = stop_threshold, max_phases
        self.paced = False  # set for each search by schedule_under(its budget)
        self.toolbox = base.Toolbox()
        self.toolbox.register("mate", self.crossover)
        self.toolbox.register("mutate", self.mutate)
        self.toolbox.register("select", self.select)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "population": self.population,
            "generations": self.generations,
            "survival_rate": self.survival_rate,
            "weak_survival": self.weak_survival,
            "mutation_rate": self.mutation_rate,
            "stop_threshold": self.stop_threshold,
            "max_phases": self.max_phases,
            "phase_patience": self.phase_patience,
            "schedule": self.schedule,
            "budget_phases": self.budget_phases,
        }

    # ---- the schedule -------------------------------------------------------------------
    def schedule_under(self, budget: Budget) -> str:
        """The schedule a search under ``budget`` follows: ``"paced"`` or ``"thesis"``."""
        if self.schedule == "auto":
            return "paced" if budget else "thesis"
        if self.schedule == "paced" and not budget:
            raise ValueError(
                "schedule='paced' shares a time or evaluation budget among the phases: pass "
                "time_budget or max_evaluations (--time-budget, --max-evaluations), or use "
                "schedule='auto' or 'thesis'."
            )
        return self.schedule

    @property
    def population_size(self) -> int:
        """Individuals per generation: ``population``, else 20 (thesis) or 4 (paced)."""
        return self.population or (PACED_POPULATION if self.paced else THESIS_POPULATION)

    def validate_budget(self, budget: Budget) -> None:
        """``schedule="paced"`` without a budget is refused before any work."""
        self.schedule_under(budget)

    # ---- genetic operators (all draw from self.rng) -------------------------------------
    def select(self, population: list) -> list:
        """Xiao steps 4-6: the fittest share survives, each other one with ``weak_survival``."""
        ranked = sorted(population, key=lambda ind: ind.fitness.values[0], reverse=True)
        n_fit = max(1, int(round(self.survival_rate * len(ranked))))
        return ranked[:n_fit] + [
            ind for ind in ranked[n_fit:] if self.rng.random() < self.weak_survival
        ]

    def mutate(self, individual: list, phase: int) -> list:
        """Change one gene of the segment phase ``phase`` searches (step 7) to another choice."""
        layout = self.space.layout(self.space.n_blocks(individual))
        movable = [i for i in self.space.segment(phase) if len(layout[i][1].choices) > 1]
        i = self.rng.choice(movable)
        individual[i] = self.rng.choice([c for c in layout[i][1].choices if c != individual[i]])
        return individual

    def crossover(self, mother: list, father: list) -> list:
        """One child whose every gene comes from either parent with probability 1/2 (step 8)."""
        return creator.VLGAIndividual(
            m if self.rng.random() < 0.5 else f for m, f in zip(mother, father)
        )

    def next_generation(self, population: list) -> list:
        survivors = [creator.VLGAIndividual(ind) for ind in self.toolbox.select(population)]
        for ind in survivors:
            if self.rng.random() < self.mutation_rate:
                # the newest block: a phase that grew again from an earlier best is shallower
                self.toolbox.mutate(ind, self.space.n_blocks(ind) - 1)
        children = []
        while len(survivors) + len(children) < self.population_size:
            mother, father = (
                self.rng.sample(survivors, 2)
                if len(survivors) > 1
                else (survivors[0], survivors[0])
            )
            children.append(self.toolbox.mate(mother, father))
        return survivors + children

    # ---- the search -------------------------------------------------------------------
    def _individuals(self, genes_list: list[list]) -> list:
        return [creator.VLGAIndividual(g) for g in genes_list]

    def _first_state(self) -> VLGAState:
        population = [self.space.random_genes(1, self.rng) for _ in range(self.population_size)]
        return VLGAState(population=self._with_known_good(population))

    def _with_known_good(self, population: list[list]) -> list[list]:
        """The space's known-good chromosomes of this depth in place of the first random ones
        (at most half the population; first, so a paced phase cut short still trains them):
        the search starts from them and can only improve on them."""
        n_blocks = self.space.n_blocks(population[0])
        known = [g for g in self.space.known_good(n_blocks) if g not in population]
        known = known[: len(population) // 2]
        return known + population[len(known) :]

    def _run(self, state: VLGAState | None) -> None:
        self.paced = self.schedule_under(self.run.budget) == "paced"
        state = state if state is not None else self._first_state()
        # A resumed search has a fresh time budget: its current phase starts its share afresh.
        state.phase_start_used = min(state.phase_start_used, self.run.budget_used() or 0.0)
        while True:
            evaluations, another = self._run_generation(state)
            if not another and not self._end_phase(state, evaluations):
                return

    def _run_generation(self, state: VLGAState) -> tuple[list, bool]:
        """Evaluate the generation; whether another generation of this phase follows.

        A paced phase stops evaluating once the next batch would overrun its share (the phase
        then ends). If another generation follows (generations left, patience left, room in
        the share), ``state`` moves on to it; the evaluations are returned either way.
        """
        self.run.checkpoint(state)
        self.run.check_budget()
        phase, generation = state.phase, state.generation
        population = self._individuals(state.population)
        tag = {
            "phase": phase,
            "generation": generation,
            "n_blocks": self.space.n_blocks(population[0]),
        }
        evaluations = []
        for batch in self._batches(population, phase):
            if self._overruns(state, sum(self.key(g) not in self.run.evaluations() for g in batch)):
                break
            rows = len(self.run.history)
            offset = len(evaluations)
            evaluations += self.run.evaluate_population(
                batch, parent_model=state.parent_model, group=phase, tag=tag
            )
            for row in self.run.history[rows:]:  # its index in the generation, not in the batch
                row["individual"] += offset
        if evaluations:
            self._report(phase, generation, evaluations)
        if len(evaluations) < len(population):  # the paced phase's share is spent
            return evaluations, False
        for ind, e in zip(population, evaluations):
            ind.fitness.values = (e.fitness,)
        generation_best = max(e.fitness for e in evaluations)
        if generation == 0 or generation_best > state.phase_best_so_far + 1e-4:
            state.phase_best_so_far, state.stale_generations = generation_best, 0
        else:
            state.stale_generations += 1
        patience_left = self.phase_patience is None or state.stale_generations < self.phase_patience
        another = (
            generation + 1 < self.generations and patience_left and not self._overruns(state, 1)
        )
        if another:
            state.population = [list(ind) for ind in self.next_generation(population)]
            state.generation += 1
        return evaluations, another

    def _end_phase(self, state: VLGAState, evaluations: list) -> bool:
        """Record the phase's best and apply the schedule's rules; whether the search grows.

        If it grows, ``state`` becomes the next phase: every individual extends the best of the
        phase (paced: of the best phase so far, if this one fell) by one random block and
        inherits its model's weights.
        """
        phase = state.phase
        if self.paced:  # a paced phase may have ended mid-generation: all of it counts
            evaluations = [self.run.evaluation(self.key(r["genes"])) for r in self._rows(phase)]
        done = [e for e in evaluations if e.status == "ok"] or evaluations
        best = max(done, key=lambda e: e.fitness)
        earlier = max((b["fitness"] for b in state.phase_best), default=None)
        model = self.run.directory.relative(best.model_path) if best.model_path else None
        state.phase_best.append(
            {"phase": phase, "fitness": best.fitness, "genes": best.genes, "model_path": model}
        )
        grow_from = state.phase_best[-1]
        if earlier is not None and best.fitness < earlier - self.stop_threshold:
            fell = (
                f"phase {phase} best {best.fitness:.4f} fell more than {self.stop_threshold} "
                f"below the earlier best {earlier:.4f}"
            )
            if not self.paced:
                self.run.stop_reason = f"thesis rule: {fell}"
                return False
            grow_from = max(state.phase_best, key=lambda b: b["fitness"])
            self.run.progress.write(
                f"{fell}: phase {phase + 1} grows from phase {grow_from['phase']}"
            )
        if self.max_phases is not None and phase + 1 >= self.max_phases:
            self.run.stop_reason = f"max_phases={self.max_phases} reached"
            return False
        if grow_from["model_path"] is None:
            self.run.stop_reason = f"no candidate of phase {phase} trained successfully"
            return False
        if self.paced and not self._new_in(phase):
            self.run.stop_reason = (
                f"every candidate of phase {phase} was evaluated in an earlier phase: the space "
                "around the best has nothing new"
            )
            return False
        state.phase, state.generation = phase + 1, 0
        state.parent_model = grow_from["model_path"]
        state.phase_start_used = self.run.budget_used() or 0.0
        state.population = self._with_known_good(
            [self.space.extend(grow_from["genes"], self.rng) for _ in range(self.population_size)]
        )
        return True

    # ---- pacing -------------------------------------------------------------------------
    def _rows(self, phase: int) -> list[dict]:
        return [r for r in self.run.history if r["phase"] == phase]

    def _new_in(self, phase: int) -> set[str]:
        """Candidates first evaluated in ``phase`` (its share paid for them)."""
        before = {self.key(r["genes"]) for r in self.run.history if r["phase"] < phase}
        return {self.key(r["genes"]) for r in self._rows(phase)} - before

    def _paces(self, phase: int) -> bool:
        return self.paced and phase < (self.budget_phases or PACED_PHASES)

    def _batches(self, population: list, phase: int) -> list[list]:
        """What is evaluated at once: a paced phase checks its share before each batch."""
        if not self._paces(phase):
            return [population]
        size = self.run.workers
        return [population[i : i + size] for i in range(0, len(population), size)]

    def _overruns(self, state: VLGAState, new: int) -> bool:
        """Whether training ``new`` more candidates would overrun the phase's share of the budget.

        Only a paced phase with a successful candidate and ``PHASE_MINIMUM`` trained ones ends so;
        a candidate is estimated to cost what the phase's trained candidates cost on average.
        """
        if not new or not self._paces(state.phase):
            return False
        trained = len(self._new_in(state.phase))
        if trained < min(PHASE_MINIMUM, self.population_size):
            return False
        if all(r["status"] != "ok" for r in self._rows(state.phase)):
            return False
        start = state.phase_start_used
        share = (1.0 - start) / ((self.budget_phases or PACED_PHASES) - state.phase)
        spent = (self.run.budget_used() or 0.0) - start
        return spent + spent / trained * new > share + 1e-9

    def _report(self, phase: int, generation: int, evaluations: list) -> None:
        fitness = sorted(e.fitness for e in evaluations)
        self.run.report(
            f"phase {phase} gen {generation + 1}/{self.generations}: best {fitness[-1]:.4f} "
            f"median {fitness[len(fitness) // 2]:.4f}"
        )
