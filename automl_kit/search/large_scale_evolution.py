"""Mutation-only large-scale evolution (Real et al. 2017), the thesis's third rival.

Starts from minimal models (one block, the fewest channels, no pooling, skip or BN).
Each step: pick two individuals at random, the worse dies, the better is copied and
mutated once (add a block, remove the last block, or change one gene: channels, kernel,
skip, BN, pooling, activation); the child inherits the parent's weights wherever the
layer names and shapes still match, then trains ``epochs_per_eval`` epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

from automl_kit.search.base import Searcher, SearchState


@dataclass
class LargeScaleEvolutionState(SearchState):
    """The round and the living population as candidate keys (``None`` before the first one)."""

    round: int = 0
    population: list[str] | None = None


class LargeScaleEvolution(Searcher):
    """Steady-state tournament evolution with structural mutations and weight inheritance.

    >>> LargeScaleEvolution(CNNSpace.compact(), population=10).search(x, y, validation_data=(xv, yv), time_budget="10m")  # doctest: +SKIP
    """

    algorithm = "large_scale_evolution"
    options = frozenset({"population"})
    State = LargeScaleEvolutionState

    def __init__(self, space=None, *, population: int = 20, steps_per_round: int = 4, **kwargs):
        super().__init__(space, **kwargs)
        if population < 2:
            raise ValueError(f"population must be at least 2, got {population}.")
        self.population, self.steps_per_round = population, steps_per_round

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "population": self.population,
            "steps_per_round": self.steps_per_round,
        }

    def minimal_genes(self) -> list:
        """One block with the first choice of every gene except a random activation (the start of evolution)."""
        genes = [gene.choices[0] for _, gene in self.space.layout(1)]
        genes[0] = (
            self.rng.choice(self.space.layout(1)[0][1].choices)
            if self.space.global_genes
            else genes[0]
        )
        return genes

    def mutate(self, genes: list) -> list:
        n_blocks = self.space.n_blocks(genes)
        kind = self.rng.choice(
            ["add", "remove", "gene", "gene"] if n_blocks > 1 else ["add", "gene", "gene"]
        )
        if kind == "add":
            return self.space.extend(genes, self.rng)
        if kind == "remove":
            return list(genes[: self.space.length(n_blocks - 1)])
        child = list(genes)
        layout = self.space.layout(n_blocks)
        i = self.rng.choice([i for i, (_, g) in enumerate(layout) if len(g.choices) > 1])
        child[i] = self.rng.choice([c for c in layout[i][1].choices if c != child[i]])
        return child

    def _run(self, state: LargeScaleEvolutionState | None) -> None:
        if state is None or state.population is None:
            start = [self.minimal_genes() for _ in range(self.population)]
            self.run.checkpoint(LargeScaleEvolutionState())
            evaluations = self.run.evaluate_population(start, tag={"phase": 0, "generation": 0})
            state = LargeScaleEvolutionState(1, [self.key(e.genes) for e in evaluations])
        while True:
            self.run.checkpoint(state)
            self.run.check_budget()
            members = [self.run.evaluation(k) for k in state.population]
            children, parents, alive = [], [], list(range(len(members)))
            for _ in range(min(self.steps_per_round, len(members) - 1)):
                a, b = self.rng.sample(alive, 2)
                winner, loser = (a, b) if members[a].fitness >= members[b].fitness else (b, a)
                alive.remove(loser)
                children.append(self.mutate(members[winner].genes))
                parents.append(members[winner].model_path)
            evaluations = self.run.evaluate_population(
                children, parent_model=parents, tag={"phase": 0, "generation": state.round}
            )
            population = [members[i] for i in alive] + evaluations
            state = LargeScaleEvolutionState(
                state.round + 1, [self.key(e.genes) for e in population]
            )
            self.run.report(f"round {state.round}: population {len(population)}")
