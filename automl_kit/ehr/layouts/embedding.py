"""A DeepInsight-style layout (Sharma et al. 2019), written from the paper.

Each feature is a point: its row of the feature-correlation matrix (``1 - distances`` of the
problem), reduced to two dimensions by PCA or by t-SNE (on the distances). The points are turned
so that their minimum-area bounding rectangle is axis-aligned (DeepInsight's convex-hull
step), its long side along the grid's long side, then scaled onto the grid. DeepInsight lets
several features share a pixel; here every feature needs its own cell, so features go to cells
by a minimum-cost assignment (squared distance from point to cell centre,
``scipy.optimize.linear_sum_assignment``), which keeps neighbours as close as the grid allows.

>>> import numpy as np, pandas as pd
>>> from automl_kit.ehr.layouts.base import LayoutProblem, feature_distances
>>> x = np.random.default_rng(0).normal(size=(50, 4))
>>> problem = LayoutProblem.from_relations(pd.DataFrame(np.ones((2, 2)) / 2, ["dx:a", "dx:b"],
...     ["rx:c", "rx:d"]), distances=feature_distances(x))
>>> sorted(EmbeddingLayout().make(problem).layout.tolist())
[0, 1, 2, 3]
"""

from __future__ import annotations

import numpy as np

from automl_kit.ehr.layouts.base import LayoutMaker, LayoutProblem

METHODS = ("pca", "tsne")


def min_area_rotation(points: np.ndarray) -> np.ndarray:
    """``points`` turned so that their minimum-area bounding rectangle is axis-aligned, with its
    long side along x (rotating calipers over the convex hull's edges)."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):  # fewer than 3 points, or all on a line: keep as they are
        return points
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    best, best_area = 0.0, np.inf
    for angle in angles:
        c, s = np.cos(angle), np.sin(angle)
        turned = hull @ np.array([[c, -s], [s, c]])
        area = np.prod(turned.max(axis=0) - turned.min(axis=0))
        if area < best_area:
            best, best_area = angle, area
    c, s = np.cos(best), np.sin(best)
    turned = points @ np.array([[c, -s], [s, c]])
    extent = turned.max(axis=0) - turned.min(axis=0)
    return turned if extent[0] >= extent[1] else turned[:, ::-1]


def assign_to_cells(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A layout (cells: feature or -1) placing each 2-D point in its own cell, least total
    squared displacement after scaling the points onto the grid."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = shape
    span = points.max(axis=0) - points.min(axis=0)
    scaled = (points - points.min(axis=0)) / np.where(span > 0, span, 1.0)
    # x along the longer grid side, y along the other
    long_side, short_side = (cols, rows) if cols >= rows else (rows, cols)
    xy = scaled * np.array([long_side - 1, short_side - 1])
    if cols < rows:
        xy = xy[:, ::-1]
    cell_x, cell_y = np.meshgrid(np.arange(cols), np.arange(rows))
    centres = np.column_stack([cell_x.ravel(), cell_y.ravel()]).astype(np.float64)
    cost = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    features, cells = linear_sum_assignment(cost)
    layout = np.full(rows * cols, -1, dtype=np.int64)
    layout[cells] = features
    return layout


class EmbeddingLayout(LayoutMaker):
    """PCA (``method="pca"``) or t-SNE (``"tsne"``, ``perplexity``) of the feature correlations,
    rotated and assigned to cells (DeepInsight, Sharma et al. 2019)."""

    name = "embedding"
    needs_distances = True

    def __init__(
        self, *, method: str = "pca", perplexity: float = 30.0, seed: int = 0, verbose: int = 0
    ):
        super().__init__(seed=seed, verbose=verbose)
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
        if not perplexity > 0:
            raise ValueError(f"perplexity must be > 0, got {perplexity}.")
        self.method, self.perplexity = method, float(perplexity)

    def get_config(self) -> dict:
        return {**super().get_config(), "method": self.method, "perplexity": self.perplexity}

    def embed(self, distances: np.ndarray) -> np.ndarray:
        """Two coordinates per feature."""
        n = len(distances)
        if n < 3:
            return np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
        if self.method == "pca":
            from sklearn.decomposition import PCA

            return PCA(2, random_state=self.seed).fit_transform(1.0 - distances)
        from sklearn.manifold import TSNE

        return TSNE(
            2,
            metric="precomputed",
            init="random",
            perplexity=min(self.perplexity, (n - 1) / 3),
            random_state=self.seed,
        ).fit_transform(np.maximum(distances, 0.0))

    def _make(self, problem: LayoutProblem) -> np.ndarray:
        if problem.distances is None:
            raise ValueError(
                "the embedding layout needs the feature distances (LayoutProblem.distances); "
                "EHRImageMapper computes them from the training counts."
            )
        points = min_area_rotation(self.embed(np.asarray(problem.distances, np.float64)))
        return assign_to_cells(points, problem.shape)
