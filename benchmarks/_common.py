"""What every benchmark shares: the environment record, the JSON file and the printed table."""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from automl_kit.utils import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--budget", choices=("small", "full"), default="small", help="small: minutes on 2 CPU cores"
    )
    p.add_argument(
        "--out",
        default=None,
        help="JSON file to write (default: benchmarks/results/<name>-<budget>.json)",
    )
    return p


def environment() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def save(name: str, budget: str, figures: dict, out: str | None = None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}-{budget}.json"
    write_json(path, {"benchmark": name, "budget": budget, "environment": environment(), **figures})
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
