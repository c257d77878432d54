"""What every benchmark shares: the CLI, the environment record, one resumable grid runner, the table.

A benchmark is a grid of *cells* (one data set x method x seed, say); ``run_grid`` runs the cells
it has not finished yet, rewrites the results JSON after every finished cell (atomically, so a
killed benchmark loses at most the cell in progress), records a failing cell with its error instead
of stopping, and on ``--resume`` skips the cells the JSON already holds. ``paired_differences``
compares each method with a named baseline seed by seed, with a bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from automl_kit.utils import read_json, write_json

RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str, budgets: Sequence[str] = ("small", "full")) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--budget", choices=tuple(budgets), default="small", help="small: minutes on 2 CPU cores"
    )
    p.add_argument(
        "--out",
        default=None,
        help="JSON file to write (default: benchmarks/results/<name>-<budget>.json)",
    )
    return p


@lru_cache(maxsize=1)
def _versions() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def environment() -> dict:
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), **_versions()}


def save(name: str, budget: str, figures: dict, out: str | os.PathLike | None = None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}-{budget}.json"
    write_json(path, {"benchmark": name, "budget": budget, "environment": environment(), **figures})
    return path


def ints(text: str | None) -> tuple[int, ...] | None:
    """A comma-separated option as integers (None when not given).

    >>> ints("300,500"), ints(None)
    ((300, 500), None)
    """
    return None if text is None else tuple(int(t) for t in text.split(","))


def table(rows: list[dict], columns: list[str]) -> str:
    widths = [max([len(c), *(len(_fmt(r.get(c))) for r in rows)]) for c in columns]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ---- the grid runner -------------------------------------------------------------------------


def cell_key(cell: dict) -> str:
    """A cell's identity: its values joined by ``/`` in field order, e.g. ``digits/vlga/0``."""
    return "/".join(str(v) for v in cell.values())


@dataclass
class Grid:
    """The outcome of :func:`run_grid`: finished rows (``{**cell, **result}``) and failed cells."""

    path: Path
    rows: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {**cell, "error": message}
    skipped: int = 0  # cells finished by an earlier run (``resume``)


def run_grid(
    name: str,
    cells: Sequence[dict],
    run_cell: Callable[[dict], dict],
    *,
    out: str | os.PathLike,
    resume: bool = False,
    budget: str = "small",
    lanes: int = 1,
    rows_from: Callable[[dict], list[dict]] | None = None,
    figures: Callable[[list[dict]], dict] | None = None,
    on_row: Callable[[dict, Grid], None] | None = None,
) -> Grid:
    """Run every cell not finished yet, saving the results JSON after each one.

    ``run_cell(cell)`` returns the cell's figures; its row is ``{**cell, **figures}``. The JSON at
    ``out`` is ``{"benchmark", "budget", "environment", **figures(rows)}`` (default
    ``{"runs": rows}``) plus ``"failed"`` while any cell has failed; ``rows_from(json)`` reads the
    finished rows back (default ``json["runs"]``), so a benchmark keeps its own file format.
    With ``resume`` the rows already in ``out`` are kept and the cells they hold (a row holds a
    cell when it carries every field of the cell with the same value) skipped (a failed cell is
    tried again); without it an existing ``out`` is replaced. ``lanes`` cells run at a time
    (threads; a cell that needs its own process starts one). A cell that raises is recorded with
    its error and the grid goes on; the caller decides what a failure means for its exit code.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "squares.json"
    >>> grid = run_grid("squares", [{"n": 2}, {"n": 3}], lambda c: {"sq": c["n"] ** 2}, out=out)  # doctest: +SKIP
    >>> [r["sq"] for r in grid.rows]  # doctest: +SKIP
    [4, 9]
    """
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}.")
    path = Path(out)
    rows_from = rows_from or (lambda saved: saved.get("runs", []))
    figures = figures or (lambda rows: {"runs": rows})
    keys = [cell_key(c) for c in cells]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"cells {duplicates} appear twice in the grid; list every cell once.")
    grid = Grid(path)
    if resume and path.is_file():
        grid.rows = list(rows_from(read_json(path)))
    todo = [c for c in cells if not any(_holds(row, c) for row in grid.rows)]
    grid.skipped = len(cells) - len(todo)

    def write() -> None:
        body = figures(grid.rows)
        if grid.failed:
            body = {**body, "failed": grid.failed}
        save(name, budget, body, path)

    for cell, result, error in _outcomes(todo, run_cell, lanes):
        if error is not None:
            message = "".join(traceback.format_exception_only(error)).strip()[-3000:]
            grid.failed.append({**cell, "error": message})
            print(f"{cell_key(cell)} failed: {message}", file=sys.stderr, flush=True)
        else:
            grid.rows.append({**cell, **result})
            if on_row is not None:
                on_row(grid.rows[-1], grid)
        write()
    if not todo:
        write()  # a resumed, finished grid still gets its summary rewritten
    return grid


def _holds(row: dict, cell: dict) -> bool:
    """Whether ``row`` is the finished ``cell`` (it carries every field of the cell)."""
    return all(k in row and row[k] == v for k, v in cell.items())


def _outcomes(cells: Sequence[dict], run_cell: Callable[[dict], dict], lanes: int):
    """``(cell, result, None)`` or ``(cell, None, error)`` as each cell ends, in finishing order."""
    if lanes == 1:  # in the main thread: Ctrl-C stops the cell in progress, not after it
        for cell in cells:
            try:
                yield cell, run_cell(dict(cell)), None
            except Exception as exc:  # noqa: BLE001 - recorded with the cell, the grid goes on
                yield cell, None, exc
        return
    pool = ThreadPoolExecutor(lanes)
    try:
        futures = {pool.submit(run_cell, dict(cell)): cell for cell in cells}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], None if error else future.result(), error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: start no further cell


class Lanes:
    """Runs each cell in a fresh Python pinned to cores of its own, ``lanes`` at a time.

    The machine's cores (those this process may use) are split into ``lanes`` disjoint sets; a
    cell takes a free set for as long as its child runs, so every cell gets the same dedicated
    hardware and a clean TensorFlow state. Pair it with ``run_grid(..., lanes=lanes)``.
    """

    def __init__(self, lanes: int = 1, cpus: Sequence[int] | None = None):
        if lanes < 1:
            raise ValueError(f"lanes must be at least 1, got {lanes}.")
        cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
        per_lane = max(1, len(cpus) // lanes)
        self._free: queue.Queue[set[int]] = queue.Queue()
        for lane in range(lanes):
            self._free.put(set(cpus[lane * per_lane : (lane + 1) * per_lane]) or set(cpus))

    def run(self, module: str, args: Sequence[str], label: str) -> dict:
        """``python -m module *args --out ROW.json`` on a free set of cores; the JSON it wrote.

        Raises ``RuntimeError`` naming ``label`` with the end of the child's stderr if it fails.
        """
        cores = self._free.get()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "row.json"
                proc = subprocess.run(
                    [sys.executable, "-m", module, *args, "--out", str(out)],
                    cwd=Path(__file__).resolve().parents[1],
                    capture_output=True,
                    text=True,
                    preexec_fn=lambda: _pin_and_tie(cores),
                )
                if proc.returncode:
                    raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
                return read_json(out)
        finally:
            self._free.put(cores)


def _pin_and_tie(cores: set[int]) -> None:
    """In the child before it starts: pin it to ``cores``; on Linux, end it when its parent ends,
    so that a benchmark killed by ``timeout`` leaves no run behind to load the machine."""
    os.sched_setaffinity(0, cores)
    if sys.platform == "linux":
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded: recorded with a run to show a busy machine."""
    return [round(v, 2) for v in os.getloadavg()]


# ---- paired comparisons ----------------------------------------------------------------------


def bootstrap_interval(
    values: Sequence[float], *, level: float = 0.95, samples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (Efron & Tibshirani 1993, ch. 13).

    >>> bootstrap_interval([1.0, 1.0, 1.0])
    (1.0, 1.0)
    >>> low, high = bootstrap_interval([0.5, 1.0, 2.0, 1.5]); low <= 1.25 <= high
    True
    """
    if not values:
        raise ValueError("bootstrap_interval needs at least one value.")
    if not 0 < level < 1:
        raise ValueError(f"level is a probability in (0, 1), got {level}.")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(samples))
    tail = (1 - level) / 2
    low = means[int(tail * (samples - 1))]
    high = means[int(round((1 - tail) * (samples - 1)))]
    return low, high


def paired_differences(
    rows: Sequence[dict],
    *,
    metric: str,
    baseline: str,
    arm: str = "method",
    pair: str = "seed",
    by: Sequence[str] = ("dataset",),
    scale: float = 1.0,
    arms: Sequence[str] | None = None,
) -> list[dict]:
    """Per ``by`` group and arm: the mean over seeds of ``scale * (arm - baseline)`` on ``metric``.

    Only seeds that both the arm and the baseline finished are paired. ``ci_low``/``ci_high`` are
    the bootstrap 95% interval of that mean (over the paired differences); ``positive`` counts the
    pairs where the arm is ahead. ``arms`` limits the arms compared (default: every one).

    >>> rows = [{"dataset": "d", "method": m, "seed": s, "acc": a}
    ...         for m, s, a in [("base", 0, 0.5), ("new", 0, 0.7), ("base", 1, 0.6), ("new", 1, 0.7)]]
    >>> [(r["method"], round(r["mean_diff"], 3), r["pairs"]) for r in paired_differences(rows, metric="acc", baseline="base")]
    [('new', 0.15, 2)]
    """
    out = []
    groups = dict.fromkeys(tuple(r.get(b) for b in by) for r in rows)
    for group in groups:
        members = [r for r in rows if tuple(r.get(b) for b in by) == group]
        base = {r[pair]: r[metric] for r in members if r[arm] == baseline}
        if not base:
            continue
        for name in dict.fromkeys(r[arm] for r in members):
            if name == baseline or (arms is not None and name not in arms):
                continue
            diffs = [
                scale * (r[metric] - base[r[pair]])
                for r in members
                if r[arm] == name and r[pair] in base
            ]
            if not diffs:
                continue
            low, high = bootstrap_interval(diffs)
            out.append(
                {
                    **dict(zip(by, group)),
                    arm: name,
                    "baseline": baseline,
                    "metric": metric,
                    "pairs": len(diffs),
                    "mean_diff": statistics.fmean(diffs),
                    "ci_low": low,
                    "ci_high": high,
                    "positive": sum(d > 0 for d in diffs),
                }
            )
    return out


def best_arm(
    rows: Sequence[dict], candidates: Sequence[str], *, metric: str, arm: str = "method"
) -> str | None:
    """Of ``candidates``, the arm with the highest median ``metric`` in ``rows`` (None if none ran).

    Ties go to the arm listed first in ``candidates``, so the choice is reproducible.

    >>> rows = [{"method": m, "acc": a} for m, a in [("a", 0.8), ("a", 0.9), ("b", 0.86), ("c", 0.99)]]
    >>> best_arm(rows, ["a", "b"], metric="acc")
    'b'
    """
    medians = {
        name: statistics.median(values)
        for name in candidates
        if (values := [r[metric] for r in rows if r[arm] == name])
    }
    return max(medians, key=lambda n: medians[n], default=None)


DIFFERENCE_COLUMNS = ["pairs", "mean_diff", "ci_low", "ci_high"]
