"""Run directories: one folder per job holding its config, results, tables, plots and models."""

from __future__ import annotations

import os
import time
from pathlib import Path

from automl_kit.utils.io import read_json, write_csv, write_json


class RunDirectory:
    """A job's output folder, ``runs/<timestamp>-<command>/`` unless ``path`` is given.

    >>> run = RunDirectory.create("evolve", root="runs")          # doctest: +SKIP
    >>> run.write_config({"population": 20}); run.path("best.keras")  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @classmethod
    def create(
        cls,
        command: str,
        *,
        path: str | os.PathLike | None = None,
        root: str | os.PathLike = "runs",
    ) -> RunDirectory:
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = Path(root) / f"{stamp}-{command}"
            suffix = 1
            while path.exists():
                suffix += 1
                path = Path(root) / f"{stamp}-{command}-{suffix}"
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def path(self, name: str) -> Path:
        """Absolute path of a file inside the run directory (parent folders created)."""
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_config(self, config: dict) -> Path:
        return write_json(self.path("config.json"), config)

    def read_config(self) -> dict:
        return read_json(self.root / "config.json")

    def write_results(self, results: dict) -> Path:
        return write_json(self.path("results.json"), results)

    def write_table(self, name: str, rows) -> Path:
        return write_csv(self.path(name if name.endswith(".csv") else f"{name}.csv"), rows)

    def __fspath__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.root)!r})"
