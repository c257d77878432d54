"""Search spaces as data: genes, chromosome layout and a builder ``chromosome -> keras.Model``.

A chromosome is a flat list of gene values, so DEAP's operators apply directly:

    [global genes] + [first block genes] + [later block genes] * (n_blocks - 1)

Phase ``p`` of the variable-length GA searches the genes of block ``p`` only (phase 0
also owns the global genes); earlier blocks are inherited from the previous phase's best
(Xiao, Sec. 2.2.2). Layers are named ``block{i}_...`` so weight transfer can match them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Gene:
    """One hyperparameter and its allowed values."""

    name: str
    choices: tuple

    def __post_init__(self):
        if not self.choices:
            raise ValueError(f"gene {self.name!r} needs at least one choice.")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"gene {self.name!r} has duplicate choices {self.choices}.")


class SearchSpace:
    """Genes plus a builder. Subclasses set the three gene tuples and implement ``build``.

    ``canonical`` maps genes that cannot affect the model (e.g. the pooling type when there
    is no pooling) to their first choice, so equal models share one cache entry.
    """

    name: str = "space"
    global_genes: tuple[Gene, ...] = ()
    first_block_genes: tuple[Gene, ...] = ()
    block_genes: tuple[Gene, ...] = ()

    # ---- layout -----------------------------------------------------------------
    def block_layout(self, index: int) -> tuple[Gene, ...]:
        return self.first_block_genes if index == 0 else self.block_genes

    def layout(self, n_blocks: int) -> list[tuple[int | None, Gene]]:
        """``(block index or None for global, gene)`` for every position of a chromosome."""
        out: list[tuple[int | None, Gene]] = [(None, g) for g in self.global_genes]
        for b in range(n_blocks):
            out += [(b, g) for g in self.block_layout(b)]
        return out

    def length(self, n_blocks: int) -> int:
        return (
            len(self.global_genes)
            + len(self.first_block_genes)
            + (n_blocks - 1) * len(self.block_genes)
        )

    def n_blocks(self, genes: list) -> int:
        head = len(self.global_genes) + len(self.first_block_genes)
        extra = len(genes) - head
        if (
            extra < 0
            or (self.block_genes and extra % len(self.block_genes))
            or (not self.block_genes and extra)
        ):
            raise ValueError(f"a {self.name} chromosome cannot have {len(genes)} genes.")
        return 1 + (extra // len(self.block_genes) if self.block_genes else 0)

    def segment(self, phase: int) -> range:
        """Positions that phase ``phase`` searches (Xiao Fig. 2.4: the yellow fields)."""
        start = 0 if phase == 0 else self.length(phase)
        return range(start, self.length(phase + 1))

    def size(self, phase: int = 0) -> int:
        """Number of gene combinations searched in ``phase`` (phase 0 of the thesis space: 156,800)."""
        layout = self.layout(phase + 1)
        return math.prod(len(layout[i][1].choices) for i in self.segment(phase))

    # ---- sampling and checking ---------------------------------------------------
    def random_genes(self, n_blocks: int, rng: random.Random) -> list:
        return [rng.choice(g.choices) for _, g in self.layout(n_blocks)]

    def extend(self, genes: list, rng: random.Random) -> list:
        """``genes`` plus one random block (entering a new phase)."""
        return list(genes) + [rng.choice(g.choices) for g in self.block_genes]

    def known_good(self, n_blocks: int) -> list[list]:
        """Chromosomes of ``n_blocks`` blocks known to train well (a search may start from
        them); none unless a space names some."""
        return []

    def depth(self, genes: list) -> int:
        """Layers the genes build (one per block unless a space says otherwise)."""
        return self.n_blocks(genes)

    def random_genes_of_depth(self, depth: int, rng: random.Random) -> list:
        """A random chromosome of exactly ``depth`` layers (random search's depth draw)."""
        return self.random_genes(depth, rng)

    structural_genes: tuple[
        str, ...
    ] = ()  # genes that change the depth; fixed-length searches leave them alone

    def validate(self, genes: list) -> list:
        layout = self.layout(self.n_blocks(genes))
        for value, (block, gene) in zip(genes, layout):
            if value not in gene.choices:
                where = "global" if block is None else f"block {block}"
                raise ValueError(
                    f"{where} gene {gene.name!r} = {value!r} is not one of {gene.choices}."
                )
        return list(genes)

    def decode(self, genes: list) -> dict[str, Any]:
        """Readable form: ``{"global": {...}, "blocks": [{...}, ...]}`` (JSON-ready)."""
        self.validate(genes)
        out: dict[str, Any] = {"global": {}, "blocks": []}
        for value, (block, gene) in zip(genes, self.layout(self.n_blocks(genes))):
            if block is None:
                out["global"][gene.name] = value
            else:
                if block == len(out["blocks"]):
                    out["blocks"].append({})
                out["blocks"][block][gene.name] = value
        return out

    def encode(self, chromosome: dict[str, Any]) -> list:
        blocks = chromosome["blocks"]
        genes = [chromosome["global"][g.name] for g in self.global_genes]
        for i, block in enumerate(blocks):
            genes += [block[g.name] for g in self.block_layout(i)]
        return self.validate(genes)

    def canonical(self, genes: list) -> tuple:
        """Hashable key of the model the genes build; override to blank inactive genes."""
        return tuple(genes)

    # ---- models -----------------------------------------------------------------
    def build(self, genes: list, input_shape: tuple[int, ...], num_classes: int):
        """Return an uncompiled ``keras.Model``."""
        raise NotImplementedError

    def describe(self, genes: list) -> list[str]:
        """One readable line per layer of the model the genes build."""
        raise NotImplementedError

    def input_rank(self) -> int:
        """Rank of the data (samples first) this space builds models for."""
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @staticmethod
    def from_config(config: dict) -> SearchSpace:
        from automl_kit.registries import SPACES

        if "kind" not in config:
            raise ValueError(
                f"a search space config needs its 'kind' (one of: {', '.join(SPACES.names())}), got {config!r}."
            )
        return SPACES.get(config["kind"])(**{k: v for k, v in config.items() if k != "kind"})
