"""Plots of a capacity schedule (headless pyplot through :mod:`automl_kit.utils.plotting`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automl_kit.utils.plotting import pyplot


def plot_schedule(schedule: list[dict], path, *, losses=None, last_step: int | None = None) -> Path:
    """Active (solid) and frozen (dashed) units per layer as step functions; loss (log) below."""
    plt = pyplot()
    rows = 2 if losses else 1
    fig, axes = plt.subplots(rows, 1, figsize=(7, 3 + 2.5 * (rows - 1)), sharex=True, squeeze=False)
    end = last_step or max([len(losses or [])] + [row["step"] for row in schedule])
    ax = axes[0, 0]
    names = list(schedule[0]["layers"]) if schedule else []
    for i, name in enumerate(names):
        steps = [row["step"] for row in schedule] + [end]
        for key, style in (("active", "-"), ("frozen", "--")):
            values = [row["layers"][name][key] for row in schedule]
            ax.step(
                steps,
                values + values[-1:],
                style,
                where="post",
                color=f"C{i}",
                label=f"{name} {key}",
            )
    ax.set_ylabel("units")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("capacity schedule")
    if losses:
        loss_ax = axes[1, 0]
        values = np.asarray(losses, dtype=float)
        loss_ax.plot(np.arange(1, len(values) + 1), values, lw=0.6)
        loss_ax.set_yscale("log")
        loss_ax.set_ylabel("training loss")
        for row in schedule:
            if row["event"] != "start":
                loss_ax.axvline(row["step"], color="grey", lw=0.5, ls=":")
    axes[-1, 0].set_xlabel("step (batch)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
