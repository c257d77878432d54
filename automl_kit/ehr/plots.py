"""Pictures of an EHR-image run: the GA fitness curve and example patients (thesis Fig. 5.8)."""

from __future__ import annotations

import os

import numpy as np


def plot_fitness(history: list[dict], path: str | os.PathLike | None = None, *, lower_bound=None):
    """The GA's best fitness per generation (lower is better), with the lower bound if given."""
    from automl_kit.utils.plotting import pyplot

    if not history:
        raise ValueError("no GA history to plot: the layout was not made by the GA.")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    gens = [row["generation"] + 1 for row in history]
    ax.plot(gens, [row["best_so_far"] for row in history], label="best so far")
    ax.plot(gens, [row["median"] for row in history], alpha=0.6, label="population median")
    if lower_bound is not None:
        ax.axhline(lower_bound, ls="--", c="grey", label="every N1 adjacent (lower bound)")
    ax.set(xlabel="generation", ylabel="fitness  sum T_i  (lower is better)", title="layout GA")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def plot_patients(
    images: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    per_class: int = 4,
    seed: int = 0,
    ids=None,
):
    """Example patient images, positives on top (as the thesis's Fig. 5.8): the three time
    windows shown as the red, green and blue channels (a code used in every window is white).
    ``ids``: each row's patient id, for the titles (default: the row number)."""
    from automl_kit.utils.plotting import pyplot

    images, labels = np.asarray(images), np.asarray(labels)
    rng = np.random.default_rng(seed)
    plt = pyplot()
    fig, axes = plt.subplots(2, per_class, figsize=(2.2 * per_class, 5.4), squeeze=False)
    for row, label in enumerate((1, 0)):
        members = np.flatnonzero(labels == label)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([]), ax.set_yticks([])
            if col >= len(chosen):
                ax.axis("off")
                continue
            image = images[chosen[col]]
            rgb = np.zeros((*image.shape[:2], 3))
            rgb[..., : min(3, image.shape[2])] = image[..., :3]
            ax.imshow(rgb, interpolation="nearest", vmin=0, vmax=1)
            who = chosen[col] if ids is None else np.asarray(ids)[chosen[col]]
            ax.set_title(f"{'positive' if label else 'negative'} patient {who}", fontsize=8)
    fig.suptitle("patients as images (R, G, B = windows 1, 2, 3)")
    fig.tight_layout(h_pad=2.0)
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def plot_layout(grid, kinds: dict | None = None, path: str | os.PathLike | None = None):
    """The layout as a labelled grid: each cell shows its code (coloured by code type)."""
    from automl_kit.utils.plotting import pyplot

    grid = np.asarray(grid, dtype=object)
    rows, cols = grid.shape
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * cols), max(3.0, 0.6 * rows)))
    colours = {"dx": "#f4cccc", "px": "#d9ead3", "rx": "#cfe2f3"}
    for r in range(rows):
        for c in range(cols):
            code = str(grid[r, c])
            kind = (kinds or {}).get(code, code.split(":", 1)[0])
            ax.add_patch(
                plt.Rectangle(
                    (c, rows - 1 - r), 1, 1, facecolor=colours.get(kind, "white"), edgecolor="grey"
                )
            )
            ax.text(c + 0.5, rows - 0.5 - r, code, ha="center", va="center", fontsize=6)
    ax.set_xlim(0, cols), ax.set_ylim(0, rows)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title("layout (red dx, green px, blue rx)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
