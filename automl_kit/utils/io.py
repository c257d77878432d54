"""JSON/CSV writing shared by run directories, checkpoints and benchmarks (never pickle)."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np


def to_jsonable(value):
    """Convert NumPy scalars/arrays, paths, tuples and sets into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    return value


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON atomically: a crash leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(to_jsonable(data), fh, indent=2, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_csv(
    path: str | os.PathLike, rows: Iterable[Mapping], fieldnames: list[str] | None = None
) -> Path:
    """Write dict rows as CSV; columns are the union of keys in first-seen order."""
    rows = [to_jsonable(r) for r in rows]
    if fieldnames is None:
        fieldnames = list(dict.fromkeys(k for r in rows for k in r))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
            )
    os.replace(tmp, path)
    return path


def require_files(root: str | os.PathLike, names, *, what: str, writers: str) -> Path:
    """``root`` as a Path if it holds every one of ``names``; else ``FileNotFoundError`` naming
    the missing ones, what was expected (``what``) and what writes it (``writers``)."""
    root = Path(root)
    missing = [name for name in names if not (root / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{root} holds no {what} (no {', '.join(missing)}); pass the folder that {writers} "
            "wrote."
        )
    return root
