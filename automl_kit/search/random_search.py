"""Random search (Bergstra & Bengio 2012), the thesis's first rival: depth drawn in [2, 10]."""

from __future__ import annotations

from dataclasses import dataclass

from automl_kit.search.base import Searcher, SearchState


@dataclass
class RandomSearchState(SearchState):
    """The number of batches drawn so far."""

    round: int = 0


class RandomSearch(Searcher):
    """Independent random chromosomes, each of a depth drawn uniformly from ``depth_range``.

    Needs a budget (``time_budget`` or ``max_evaluations``): it has no stopping rule of its own.

    >>> result = RandomSearch(CNNSpace.compact(), seed=0).search(x, y, validation_data=(xv, yv), time_budget="10m")  # doctest: +SKIP
    """

    algorithm = "random_search"
    State = RandomSearchState

    def __init__(
        self, space=None, *, depth_range: tuple[int, int] = (2, 10), batch: int = 10, **kwargs
    ):
        super().__init__(space, **kwargs)
        low, high = depth_range
        if not 1 <= low <= high:
            raise ValueError(
                f"depth_range must be (low, high) with 1 <= low <= high, got {depth_range}."
            )
        self.depth_range, self.batch = (int(low), int(high)), batch

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_range": list(self.depth_range), "batch": self.batch}

    def _run(self, state: RandomSearchState | None) -> None:
        if not self.run.budget:
            raise ValueError("random search needs a budget: pass time_budget or max_evaluations.")
        state = state if state is not None else RandomSearchState()
        while True:
            self.run.checkpoint(state)
            self.run.check_budget()
            batch = [
                self.space.random_genes_of_depth(self.rng.randint(*self.depth_range), self.rng)
                for _ in range(self.batch)
            ]
            self.run.evaluate_population(batch, tag={"phase": 0, "generation": state.round})
            self.run.report(f"round {state.round + 1}")
            state.round += 1
