"""The layout fitness of Xiao (thesis Sec. 5.2.1), vectorised over a whole population.

For each treatment ``i`` its ``n`` nearest diagnoses N1..Nn by P(rx | dx) (Eq. 5.1) are ranked
1..n; ``T_i`` is the rank of the best-ranked one inside the treatment's 3x3 neighbourhood, or
``penalty`` when none is (the thesis writes infinity; a large finite value keeps sums
comparable). The fitness of a layout is ``sum_i T_i``, to be **minimised**. Treatments related
to no diagnosis (P = 0 for all) cannot be placed better or worse and are left out.

A layout is an array of ``rows * cols`` cells holding a feature index or -1 (empty); a GA
chromosome is a permutation of ``range(rows * cols)`` whose values ``>= n_features`` are empty
cells (:func:`to_chromosome`). Both are accepted, one per row of a ``(P, cells)`` population.

>>> import numpy as np
>>> # features 0, 1 are diagnoses, 2 a treatment; P(2 | 0) = 0.9 > P(2 | 1) = 0.5
>>> fit = LayoutFitness(np.array([[0.9], [0.5]]), diagnoses=[0, 1], treatments=[2],
...                     shape=(1, 4), n_neighbours=2, penalty=10)
>>> fit(np.array([[0, 2, 1, -1],      # N1 next to the treatment: T = 1
...               [1, 2, -1, 0],      # only N2 adjacent: T = 2
...               [2, -1, 0, 1]]))    # none adjacent: the penalty
array([ 1.,  2., 10.])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def to_chromosome(layout: np.ndarray, n_features: int) -> np.ndarray:
    """A layout (feature index or -1 per cell) as a permutation of ``range(cells)``: empty cells
    get the values ``n_features, n_features + 1, ...`` in cell order.

    >>> to_chromosome(np.array([1, -1, 0, -1]), 2).tolist()
    [1, 2, 0, 3]
    """
    layout = np.array(layout, dtype=np.int64, copy=True)
    empty = layout < 0
    layout[empty] = n_features + np.cumsum(empty[..., :], axis=-1)[empty] - 1
    return layout


def to_layout(chromosome: np.ndarray, n_features: int) -> np.ndarray:
    """The inverse of :func:`to_chromosome`: values ``>= n_features`` become -1."""
    chromosome = np.asarray(chromosome, dtype=np.int64)
    return np.where(chromosome < n_features, chromosome, -1)


def check_layout(layout, n_features: int, cells: int) -> np.ndarray:
    """``layout`` as int64, checked: ``cells`` entries, each feature exactly once, the rest -1."""
    arr = np.asarray(layout)
    if arr.ndim != 1 or arr.size != cells:
        raise ValueError(
            f"a layout has one entry per grid cell ({cells}), got shape {arr.shape}; pass "
            "rows * cols feature indices with -1 for empty cells."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"a layout holds integer feature indices, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    placed = np.sort(arr[arr >= 0])
    if arr.min(initial=0) < -1 or not np.array_equal(placed, np.arange(n_features)):
        raise ValueError(
            f"a layout must place each of the {n_features} features exactly once and mark empty "
            f"cells with -1; it holds {np.unique(arr[arr >= 0]).size} distinct features in "
            f"{placed.size} cells with values from {arr.min()} to {arr.max()}."
        )
    return arr


class LayoutFitness:
    """``sum_i T_i`` of a population of layouts (Sec. 5.2.1); lower is better.

    ``relations`` is the (diagnoses x treatments) matrix of P(t | d), ``diagnoses`` and
    ``treatments`` the feature indices of its rows and columns, ``shape`` the grid
    ``(rows, cols)``, ``penalty`` ``T_i`` when no near diagnosis is adjacent (default
    ``2 * n_neighbours``).
    """

    def __init__(
        self,
        relations: np.ndarray,
        *,
        diagnoses: Sequence[int],
        treatments: Sequence[int],
        shape: tuple[int, int],
        n_neighbours: int = 5,
        penalty: float | None = None,
    ):
        relations = np.asarray(relations, dtype=np.float64)
        diagnoses, treatments = np.asarray(diagnoses, int), np.asarray(treatments, int)
        if relations.shape != (diagnoses.size, treatments.size):
            raise ValueError(
                f"relations has shape {relations.shape} but there are {diagnoses.size} diagnoses "
                f"and {treatments.size} treatments; pass the P(t | d) matrix with rows = diagnoses."
            )
        if not np.all(np.isfinite(relations)) or relations.min(initial=0) < 0:
            raise ValueError("relations must be finite probabilities >= 0 (Eq. 5.1).")
        if n_neighbours < 1:
            raise ValueError(f"n_neighbours must be at least 1, got {n_neighbours}.")
        rows, cols = (int(s) for s in shape)
        if rows < 1 or cols < 1:
            raise ValueError(f"the grid shape must be positive, got {shape}.")
        n_features = diagnoses.size + treatments.size
        if n_features > rows * cols:
            raise ValueError(
                f"{n_features} features do not fit a {rows} x {cols} grid; enlarge the grid."
            )
        self.shape, self.cells = (rows, cols), rows * cols
        self.n_neighbours = int(n_neighbours)
        self.penalty = float(2 * n_neighbours if penalty is None else penalty)
        if self.penalty <= self.n_neighbours:
            raise ValueError(
                f"penalty ({self.penalty}) must exceed n_neighbours ({self.n_neighbours}), so "
                "that an adjacent related diagnosis always scores better than none."
            )
        k = min(self.n_neighbours, diagnoses.size)
        # N1..Nn per treatment: diagnoses by decreasing P(t | d); ties by index (stable)
        order = np.argsort(-relations.T, axis=1, kind="stable")[:, :k]
        related = np.take_along_axis(relations.T, order, axis=1) > 0
        keep = related[:, 0] if k else np.zeros(treatments.size, bool)
        self.treatments = treatments[keep]
        self.neighbours = np.where(related, diagnoses[order], -1)[keep]  # (T, k), -1 = none
        self.n_features = n_features

    @property
    def best_possible(self) -> float:
        """The fitness when every treatment has its N1 adjacent (a lower bound)."""
        return float(len(self.treatments))

    @property
    def worst_possible(self) -> float:
        return float(len(self.treatments) * self.penalty)

    def positions(self, population: np.ndarray) -> np.ndarray:
        """``pos[p, f]``: the cell of feature ``f`` in layout ``p`` (layouts or chromosomes)."""
        pop = np.atleast_2d(np.asarray(population, dtype=np.int64))
        if pop.shape[1] != self.cells:
            raise ValueError(
                f"layouts of a {self.shape[0]} x {self.shape[1]} grid have {self.cells} cells, "
                f"got {pop.shape[1]}."
            )
        n, cells = pop.shape
        # -1 (empty) goes to an extra column that is never read
        pos = np.zeros((n, max(cells, self.n_features) + 1), dtype=np.int64)
        target = np.where(pop < 0, pos.shape[1] - 1, np.minimum(pop, pos.shape[1] - 1))
        np.put_along_axis(pos, target, np.broadcast_to(np.arange(cells), (n, cells)), axis=1)
        return pos[:, : self.n_features]

    def __call__(self, population: np.ndarray) -> np.ndarray:
        """Fitness of each layout of the ``(P, cells)`` population (or of one layout): ``(P,)``."""
        pos = self.positions(population)
        if not len(self.treatments):
            return np.zeros(len(pos))
        cols = self.shape[1]
        row, col = pos // cols, pos % cols
        t_row, t_col = row[:, self.treatments, None], col[:, self.treatments, None]
        nb = np.maximum(self.neighbours, 0)
        adjacent = (
            (np.abs(row[:, nb] - t_row) <= 1)
            & (np.abs(col[:, nb] - t_col) <= 1)
            & (self.neighbours >= 0)
        )  # (P, T, k): the 3x3 neighbourhood of each treatment
        found = adjacent.any(axis=2)
        rank = np.argmax(adjacent, axis=2) + 1.0  # the best-ranked adjacent one, N1 = 1
        return np.where(found, rank, self.penalty).sum(axis=1)


__all__ = ["LayoutFitness", "check_layout", "to_chromosome", "to_layout"]
