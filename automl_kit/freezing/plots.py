"""Pictures of a freezing run: rates per layer (Xiao Figs. 3.2/3.3) and the frozen prefix."""

from __future__ import annotations

import os

import numpy as np


def _figure():
    from automl_kit.utils.plotting import pyplot

    return pyplot().subplots(figsize=(8, 4.5))


def plot_freezing_rates(
    summary: dict, path: str | os.PathLike | None = None, *, skip_last: bool = False
):
    """Freezing rate of every layer over the epochs where it was measured.

    ``summary`` is ``FreezingCallback.summary()`` (or ``freezing.json``). ``skip_last=True`` drops
    the output layer, whose low rate squeezes the others (as Fig. 3.3 does).
    """
    names = summary["layers"][:-1] if skip_last else summary["layers"]
    measured = [row for row in summary["epochs"] if row.get("freezing_rates") is not None]
    if not measured:
        raise ValueError(
            "no freezing rates were recorded; train with record_rates=True or a policy that measures them."
        )
    epochs = [row["epoch"] for row in measured]
    rates = np.array([row["freezing_rates"][: len(names)] for row in measured], dtype=float)
    fig, ax = _figure()
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for index, name in enumerate(names):
        ax.plot(
            epochs,
            rates[:, index],
            marker="o",
            ms=3,
            color=cmap(index / max(len(names) - 1, 1)),
            label=name if len(names) <= 12 else None,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("freezing rate (Eq. 3.1)")
    ax.set_title("Freezing rate per layer (dark: input side, light: output side)")
    if len(names) <= 12:
        ax.legend(fontsize=7, ncol=2)
    return _finish(fig, path)


def plot_frozen_prefix(summary: dict, path: str | os.PathLike | None = None):
    """How many leading layers were frozen in each epoch, with the learning rate."""
    epochs = [row["epoch"] for row in summary["epochs"]]
    frozen = [row["frozen_layers"] for row in summary["epochs"]]
    fig, ax = _figure()
    ax.bar(epochs, frozen, color="tab:blue", label="frozen leading layers")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"frozen layers (of {len(summary['layers'])})")
    ax.set_ylim(0, len(summary["layers"]))
    lr_axis = ax.twinx()
    rates = [row["learning_rate"] for row in summary["epochs"]]
    lr_axis.step(epochs, rates, where="mid", color="tab:red")
    if all(rate > 0 for rate in rates):  # a schedule that decays to 0 is drawn on a linear axis
        lr_axis.set_yscale("log")
    lr_axis.set_ylabel("learning rate", color="tab:red")
    ax.set_title(f"Frozen prefix per epoch ({summary['policy']['policy']})")
    return _finish(fig, path)


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
