"""Matplotlib for scripts, CI and notebooks alike (imported only when a plot is drawn)."""

from __future__ import annotations

import os

INTERACTIVE = ("inline", "ipympl", "widget", "nbagg")


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend, unless a notebook or the user chose one."""
    import matplotlib

    backend = matplotlib.get_backend().lower()
    if "MPLBACKEND" not in os.environ and not any(name in backend for name in INTERACTIVE):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
