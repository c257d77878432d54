"""IGTD, Image Generator for Tabular Data (Zhu et al. 2021), written from the paper.

Features start in cells in their order; pixel distances (Euclidean, between cells) and feature
distances (the problem's ``1 - correlation``) are each ranked and scaled to [0, 1]. The error is
``sum_{i<j} |R_ij - Q_ij|`` over feature pairs (R: feature-distance ranks, Q: the ranks of the
distances between their cells). Each step takes the feature considered longest ago, finds the
cell (a free one, or another feature's: a swap) whose move reduces the error most, and moves
it if that helps. The search stops after ``max_steps`` or when a full round over the
features brings no improvement. Every candidate move of a step is scored at once in NumPy.

>>> import numpy as np, pandas as pd
>>> from automl_kit.ehr.layouts.base import LayoutProblem, feature_distances
>>> x = np.random.default_rng(0).normal(size=(50, 4))
>>> problem = LayoutProblem.from_relations(pd.DataFrame(np.ones((2, 2)) / 2, ["dx:a", "dx:b"],
...     ["rx:c", "rx:d"]), distances=feature_distances(x))
>>> sorted(IGTDLayout().make(problem).layout.tolist())
[0, 1, 2, 3]
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from automl_kit.ehr.layouts.base import LayoutMaker, LayoutProblem


def _scaled_ranks(matrix: np.ndarray) -> np.ndarray:
    """Ranks of the off-diagonal entries (ties averaged) scaled to [0, 1]; diagonal 0."""
    n = len(matrix)
    upper = np.triu_indices(n, 1)
    out = np.zeros_like(matrix, dtype=np.float64)
    if len(upper[0]):
        ranks = rankdata(matrix[upper])
        span = ranks.max() - ranks.min()
        out[upper] = (ranks - ranks.min()) / (span if span > 0 else 1.0)
        out = out + out.T
    return out


class IGTDLayout(LayoutMaker):
    """Zhu et al.'s IGTD: move features until pixel-distance ranks match feature-distance ranks."""

    name = "igtd"
    needs_distances = True

    def __init__(self, *, max_steps: int = 2000, seed: int = 0, verbose: int = 0):
        super().__init__(seed=seed, verbose=verbose)
        if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1:
            raise ValueError(f"max_steps must be a whole number >= 1, got {max_steps!r}.")
        self.max_steps = int(max_steps)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_steps": self.max_steps}

    def _make(self, problem: LayoutProblem) -> np.ndarray:
        if problem.distances is None:
            raise ValueError(
                "IGTD needs the feature distances (LayoutProblem.distances); EHRImageMapper "
                "computes them from the training counts."
            )
        rows, cols = problem.shape
        n, cells = problem.n_features, problem.cells
        r = _scaled_ranks(np.asarray(problem.distances, np.float64))
        yy, xx = np.divmod(np.arange(cells), cols)
        q = _scaled_ranks(np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :]))
        pos = np.arange(n)  # the paper's start: features in their order
        occupant = np.full(cells, -1)
        occupant[pos] = np.arange(n)
        self.errors_ = [float(np.triu(np.abs(r - q[pos][:, pos]), 1).sum())]
        stale = 0
        for step in range(self.max_steps):
            a = step % n  # the feature considered longest ago
            pa = pos[a]
            qa_now = q[pa, pos]  # (n,) distance ranks from a's cell to every feature's cell
            error_now = np.abs(r - q[pos][:, pos])  # (n, n)
            error_moved_a = np.abs(r[a][None, :] - q[:, pos])  # (cells, n): a placed in cell c
            b = occupant  # who sits in each candidate cell (-1: free)
            bi = np.maximum(b, 0)
            has_b = b >= 0
            # pairs (a, k), k not a or b: after the move minus before
            old_a = np.abs(r[a] - qa_now)
            delta = (
                error_moved_a.sum(axis=1)
                - error_moved_a[np.arange(cells), a]
                - np.where(has_b, error_moved_a[np.arange(cells), bi], 0.0)
                - (old_a.sum() - old_a[a] - np.where(has_b, old_a[bi], 0.0))
            )
            # pairs (b, k), k not a or b: b moves from cell c to a's cell
            error_b_at_a = np.abs(r - qa_now[None, :])  # (n, n): row b placed in a's cell
            old_b = error_now.sum(axis=1) - error_now[:, a]  # diagonal is 0
            new_b = error_b_at_a.sum(axis=1) - error_b_at_a[:, a] - error_b_at_a.diagonal()
            delta = delta + np.where(has_b, (new_b - old_b)[bi], 0.0)
            delta[pa] = 0.0
            c = int(np.argmin(delta))
            if delta[c] < -1e-12:
                other = occupant[c]
                occupant[pa], occupant[c] = other, a
                pos[a] = c
                if other >= 0:
                    pos[other] = pa
                self.errors_.append(self.errors_[-1] + float(delta[c]))
                stale = 0
            else:
                stale += 1
                if stale >= n:  # a whole round without a better move: a local optimum
                    break
        return occupant.copy()
