"""The misclassification graph drawn like Xiao's Figure 4.6: nodes = classes, arrow width = confusion rate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def drawn_edges(graph: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """The weights :func:`plot_class_graph` draws: off-diagonal entries above ``threshold``, else 0."""
    graph = np.asarray(graph, dtype=np.float64)
    off = graph * (1 - np.eye(len(graph)))
    return np.where(off > threshold, off, 0.0)


def plot_class_graph(
    graph: np.ndarray,
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    max_width: float = 8.0,
    threshold: float = 0.0,
) -> Path:
    """Save ``graph`` (edge ``i -> j``: class ``i`` predicted as ``j``) as a PNG at ``path``.

    Classes sit on a circle; each edge is an arrow from the true to the predicted class whose
    width is proportional to its weight (the heaviest gets ``max_width`` points); the two
    directions of a pair curve apart so both stay visible. Edges of weight ``<= threshold`` are
    not drawn (a soft-count graph is complete; ``threshold=0.01`` keeps rates above 1%).
    """
    from matplotlib.patches import FancyArrowPatch

    from automl_kit.utils.plotting import pyplot

    plt = pyplot()  # Agg in scripts and CI, the notebook's own backend in Jupyter

    from automl_kit.knowledge.graph import check_graph

    graph = check_graph(graph)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a weight >= 0, got {threshold!r}.")
    k = len(graph)
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}-node graph; pass one name per class.")
    angles = np.pi / 2 - 2 * np.pi * np.arange(k) / k
    xy = np.column_stack([np.cos(angles), np.sin(angles)])
    off = drawn_edges(graph, threshold)
    heaviest = off.max() if off.max() > 0 else 1.0
    figure, axes = plt.subplots(figsize=(6, 6))
    for i in range(k):
        for j in range(k):
            if off[i, j] <= 0:
                continue
            axes.add_patch(
                FancyArrowPatch(
                    xy[i],
                    xy[j],
                    arrowstyle="-|>",
                    mutation_scale=10 + off[i, j] / heaviest * 10,
                    linewidth=max(0.3, off[i, j] / heaviest * max_width),
                    connectionstyle="arc3,rad=0.15",
                    shrinkA=16,
                    shrinkB=16,
                    color="tab:red",
                    alpha=0.35 + 0.6 * off[i, j] / heaviest,
                )
            )
    for (x, y), name in zip(xy, names):
        axes.add_patch(plt.Circle((x, y), 0.09, color="tab:blue", zorder=3))
        axes.text(x, y, name, ha="center", va="center", color="white", fontsize=11, zorder=4)
    axes.set_xlim(-1.25, 1.25)
    axes.set_ylim(-1.25, 1.25)
    axes.set_aspect("equal")
    axes.axis("off")
    edges = int(np.sum(off > 0))
    caption = f"arrow i -> j: class i predicted as j; width ~ weight (widest {heaviest:.3g})"
    if threshold > 0:
        caption += f"; weights <= {threshold:g} not drawn"
    axes.set_title(f"{title or f'misclassification graph ({edges} edges)'}\n{caption}", fontsize=10)
    path = Path(path)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
