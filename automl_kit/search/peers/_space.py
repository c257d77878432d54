"""A variable-depth chromosome as a peer tuner's hyperparameters: ``blocks`` plus per-block genes."""

from __future__ import annotations

from collections.abc import Callable

from automl_kit.search.space import SearchSpace


def hp_name(block: int | None, gene: str) -> str:
    return gene if block is None else f"block{block}_{gene}"


def genes_from(space: SearchSpace, n_blocks: int, choose: Callable[[str, tuple], object]) -> list:
    """Chromosome of ``n_blocks`` blocks whose genes are ``choose(name, choices)``."""
    return [
        choose(hp_name(block, gene.name), gene.choices) for block, gene in space.layout(n_blocks)
    ]
