"""Pictures of a tweak: per-class accuracy before/after (thesis Fig. 1.1) and the power-law
distribution of theta's counts over all synapses (Fig. 3.4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from automl_kit.utils.plotting import pyplot

__all__ = ["count_distribution", "plot_count_distribution", "plot_per_class_accuracy"]


def count_distribution(counts: np.ndarray) -> dict[int, int]:
    """``{count: number of synapses with that count}`` over all synapses (Fig. 3.4's data).

    >>> count_distribution(np.array([[0, 1], [1, 3]]))
    {0: 1, 1: 2, 3: 1}
    """
    values, freq = np.unique(np.asarray(counts).ravel(), return_counts=True)
    return {int(v): int(f) for v, f in zip(values, freq)}


def plot_count_distribution(counts: np.ndarray, path: str | Path) -> Path:
    """Log-log plot of how many synapses have each count (a power law in the thesis)."""
    plt = pyplot()
    dist = count_distribution(counts)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    xs = [c for c in dist if c > 0]
    ax.loglog(xs, [dist[c] for c in xs], "o-")
    ax.set_xlabel("count (training corrections of a synapse)")
    ax.set_ylabel("number of synapses")
    ax.set_title(
        f"count distribution ({int(np.size(counts)):,} synapses; {dist.get(0, 0):,} with count 0)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_per_class_accuracy(
    before: Sequence[float],
    after: Sequence[float],
    path: str | Path,
    *,
    targets: Sequence[int] = (),
) -> Path:
    """Bars of per-class accuracy before and after the tweak; targets marked with ``*``."""
    plt = pyplot()
    k = np.arange(len(before))
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(k) + 2), 3.5))
    ax.bar(k - 0.2, before, 0.4, label="base")
    ax.bar(k + 0.2, after, 0.4, label="tweaked")
    ax.set_xticks(k, [f"{i}*" if i in set(targets) else str(i) for i in k])
    ax.set_xlabel("class (* target)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(max(0.0, min(np.nanmin(before), np.nanmin(after)) - 0.05), 1.0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
