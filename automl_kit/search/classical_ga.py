"""Classical fixed-length GA (Young et al. 2015, MENNDL), the thesis's second rival.

The chromosome is a fixed 3-conv-layer CNN (depth never changes). Generational GA:
tournament selection, uniform crossover, per-gene mutation, one elite; weights start
from scratch for every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from automl_kit.search.base import Searcher, SearchState


@dataclass
class ClassicalGAState(SearchState):
    """The generation and its population (chromosomes)."""

    generation: int = 0
    population: list[list] = field(default_factory=list)


class ClassicalGA(Searcher):
    """Fixed-length GA over chromosomes of ``depth`` layers.

    >>> ClassicalGA(CNNSpace.compact(), population=10).search(x, y, validation_data=(xv, yv), time_budget="10m")  # doctest: +SKIP
    """

    algorithm = "classical_ga"
    options = frozenset({"population"})
    State = ClassicalGAState

    def __init__(
        self,
        space=None,
        *,
        depth: int = 3,
        population: int = 20,
        crossover_rate: float = 0.5,
        gene_mutation_rate: float = 0.1,
        tournament: int = 3,
        elite: int = 1,
        **kwargs,
    ):
        super().__init__(space, **kwargs)
        if population < 2 or not 1 <= tournament <= population or not 0 <= elite < population:
            raise ValueError(
                "need population >= 2, 1 <= tournament <= population and 0 <= elite < population."
            )
        self.depth, self.population, self.crossover_rate = depth, population, crossover_rate
        self.gene_mutation_rate, self.tournament, self.elite = gene_mutation_rate, tournament, elite

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "depth": self.depth,
            "population": self.population,
            "crossover_rate": self.crossover_rate,
            "gene_mutation_rate": self.gene_mutation_rate,
            "tournament": self.tournament,
            "elite": self.elite,
        }

    def _pick(self, scored):
        return max(self.rng.sample(scored, self.tournament), key=lambda pair: pair[1])[0]

    def _offspring(self, scored):
        mother, father = self._pick(scored), self._pick(scored)
        if self.rng.random() < self.crossover_rate:
            child = [m if self.rng.random() < 0.5 else f for m, f in zip(mother, father)]
        else:
            child = list(mother)
        layout = self.space.layout(self.space.n_blocks(child))
        for i, (_, gene) in enumerate(layout):
            if (
                gene.name not in self.space.structural_genes
                and self.rng.random() < self.gene_mutation_rate
            ):
                child[i] = self.rng.choice(gene.choices)
        return child

    def _run(self, state: ClassicalGAState | None) -> None:
        if state is None:
            state = ClassicalGAState(
                population=[
                    self.space.random_genes_of_depth(self.depth, self.rng)
                    for _ in range(self.population)
                ]
            )
        while True:
            self.run.checkpoint(state)
            self.run.check_budget()
            evaluations = self.run.evaluate_population(
                state.population, tag={"phase": 0, "generation": state.generation}
            )
            scored = sorted(
                ((e.genes, e.fitness) for e in evaluations), key=lambda pair: pair[1], reverse=True
            )
            self.run.report(f"generation {state.generation + 1}: best {scored[0][1]:.4f}")
            nxt = [list(genes) for genes, _ in scored[: self.elite]]
            while len(nxt) < self.population:
                nxt.append(self._offspring(scored))
            state = ClassicalGAState(generation=state.generation + 1, population=nxt)
