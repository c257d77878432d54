"""The variable-length genetic algorithm of Xiao (thesis Part 2, Fig. 2.1), driven by DEAP.

Per generation: evaluate; sort; the fittest ``survival_rate`` survive; each less-fit one
survives with probability ``weak_survival``; each survivor mutates one gene with probability
``mutation_rate``; uniform per-gene crossover of two random survivors fills the population.
Survivors keep their trained weights and fitness (the cache). After ``generations`` the
phase's best grows by one random block per new individual, whose model inherits the best
model's weights. The search stops when a phase's best falls more than ``stop_threshold``
below the best of all earlier phases (Sec. 2.3.5).

``phase_patience`` (our addition; ``None`` is the thesis) ends a phase early once its best
fitness has not improved for that many generations: under a small time budget the thesis
schedule can spend everything on phase 0 and never grow, which is the algorithm's point.

``budget_phases`` (our addition) paces a budgeted search: phase ``p < budget_phases`` may spend
``1 / (budget_phases - p)`` of the budget left when it began (time or evaluations), and ends
after the generation whose repetition would overrun that share (at least one generation).
Without a time or evaluation budget it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deap import base, creator

from automl_kit.search.base import Searcher, SearchState

# At import time, so spawned executor workers see the same classes (DEAP's creator is global).
if not hasattr(creator, "VLGAFitness"):
    creator.create("VLGAFitness", base.Fitness, weights=(1.0,))
    creator.create("VLGAIndividual", list, fitness=creator.VLGAFitness)


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
    """Grow CNNs (or dense nets) phase by phase with weight transfer.

    >>> from automl_kit.search import VariableLengthGA, CNNSpace
    >>> ga = VariableLengthGA(CNNSpace.compact(), population=8, generations=3, seed=0)   # doctest: +SKIP
    >>> result = ga.search(x, y, validation_data=(x_val, y_val), time_budget="10m")     # doctest: +SKIP
    >>> result.describe()                                                               # doctest: +SKIP
    """

    algorithm = "vlga"
    State = VLGAState

    def __init__(
        self,
        space=None,
        *,
        population: int = 20,
        generations: int = 5,
        survival_rate: float = 0.5,
        weak_survival: float = 0.2,
        mutation_rate: float = 0.2,
        stop_threshold: float = 0.01,
        max_phases: int | None = None,
        phase_patience: int | None = None,
        budget_phases: int | None = None,
        **kwargs,
    ):
        super().__init__(space, **kwargs)
        if population < 2:
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
        if budget_phases is not None and budget_phases < 1:
            raise ValueError(
                f"budget_phases is how many phases share the budget (>= 1), got {budget_phases}."
            )
        self.phase_patience, self.budget_phases = phase_patience, budget_phases
        self.population, self.generations = population, generations
        self.survival_rate, self.weak_survival, self.mutation_rate = (
            survival_rate,
            weak_survival,
            mutation_rate,
        )
        self.stop_threshold, self.max_phases = stop_threshold, max_phases
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
            "budget_phases": self.budget_phases,
        }

    # ---- genetic operators (all draw from self.rng) -------------------------------------
    def select(self, population: list) -> list:
        """Xiao steps 4-6: the fittest share survives, each other one with ``weak_survival``."""
        ranked = sorted(population, key=lambda ind: ind.fitness.values[0], reverse=True)
        n_fit = max(1, int(round(self.survival_rate * len(ranked))))
        return ranked[:n_fit] + [
            ind for ind in ranked[n_fit:] if self.rng.random() < self.weak_survival
        ]

    def mutate(self, individual: list, phase: int) -> list:
        """Change one gene of the phase's own segment to another of its choices (step 7)."""
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

    def next_generation(self, population: list, phase: int) -> list:
        survivors = [creator.VLGAIndividual(ind) for ind in self.toolbox.select(population)]
        for ind in survivors:
            if self.rng.random() < self.mutation_rate:
                self.toolbox.mutate(ind, phase)
        children = []
        while len(survivors) + len(children) < self.population:
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
        return VLGAState(
            population=[self.space.random_genes(1, self.rng) for _ in range(self.population)]
        )

    def _run(self, state: VLGAState | None) -> None:
        state = state if state is not None else self._first_state()
        # A resumed search has a fresh time budget: its current phase starts its share afresh.
        state.phase_start_used = min(state.phase_start_used, self.budget_used() or 0.0)
        while True:
            evaluations, another = self._run_generation(state)
            if not another and not self._end_phase(state, evaluations):
                return

    def _run_generation(self, state: VLGAState) -> tuple[list, bool]:
        """Evaluate the generation; whether another generation of this phase follows.

        If one does (generations left, patience left, and it fits the phase's budget share),
        ``state`` moves on to it; the evaluations are returned either way.
        """
        self.checkpoint(state)
        self.check_budget()
        generation_start = self.budget_used()
        phase, generation = state.phase, state.generation
        population = self._individuals(state.population)
        evaluations = self.evaluate_population(
            population,
            parent_model=state.parent_model,
            group=phase,
            tag={"phase": phase, "generation": generation, "n_blocks": phase + 1},
        )
        for ind, e in zip(population, evaluations):
            ind.fitness.values = (e.fitness,)
        self._report(phase, generation, evaluations)
        generation_best = max(e.fitness for e in evaluations)
        if generation == 0 or generation_best > state.phase_best_so_far + 1e-4:
            state.phase_best_so_far, state.stale_generations = generation_best, 0
        else:
            state.stale_generations += 1
        patience_left = self.phase_patience is None or state.stale_generations < self.phase_patience
        another = (
            generation + 1 < self.generations
            and patience_left
            and self._another_generation_fits(state, generation_start)
        )
        if another:
            state.population = [list(ind) for ind in self.next_generation(population, phase)]
            state.generation += 1
        return evaluations, another

    def _end_phase(self, state: VLGAState, evaluations: list) -> bool:
        """Record the phase's best and apply the stopping rule; whether the search grows.

        If it grows, ``state`` becomes the next phase: every individual extends the phase's best
        by one random block and inherits its model's weights.
        """
        phase = state.phase
        done = [e for e in evaluations if e.status == "ok"] or evaluations
        best = max(done, key=lambda e: e.fitness)
        earlier = max((b["fitness"] for b in state.phase_best), default=None)
        model = self.run.relative(best.model_path) if best.model_path else None
        state.phase_best.append(
            {"phase": phase, "fitness": best.fitness, "genes": best.genes, "model_path": model}
        )
        if earlier is not None and best.fitness < earlier - self.stop_threshold:
            self.stop_reason = (
                f"phase {phase} best {best.fitness:.4f} fell more than {self.stop_threshold} "
                f"below the earlier best {earlier:.4f}"
            )
            return False
        if self.max_phases is not None and phase + 1 >= self.max_phases:
            self.stop_reason = f"max_phases={self.max_phases} reached"
            return False
        if model is None:
            self.stop_reason = f"no candidate of phase {phase} trained successfully"
            return False
        state.phase, state.generation, state.parent_model = phase + 1, 0, model
        state.phase_start_used = self.budget_used() or 0.0
        state.population = [self.space.extend(best.genes, self.rng) for _ in range(self.population)]
        return True

    def _another_generation_fits(self, state: VLGAState, generation_start: float | None) -> bool:
        """Whether a generation costing what the last one did stays within the phase's share."""
        used = self.budget_used()
        phase = state.phase
        if self.budget_phases is None or used is None or phase >= self.budget_phases:
            return True
        start = state.phase_start_used
        share = (1.0 - start) / (self.budget_phases - phase)
        return (used - start) + (used - generation_start) <= share + 1e-9

    def _report(self, phase: int, generation: int, evaluations: list) -> None:
        fitness = sorted(e.fitness for e in evaluations)
        self.report(
            f"phase {phase} gen {generation + 1}/{self.generations}: best {fitness[-1]:.4f} "
            f"median {fitness[len(fitness) // 2]:.4f}"
        )
