"""What every layout maker shares: the problem it solves, its interface and its result.

A :class:`LayoutProblem` holds the features (codes), which are diagnoses and which treatments,
the grid, the thesis fitness (:class:`~automl_kit.ehr.fitness.LayoutFitness`) and, for the
data-driven rivals (embedding, IGTD), a feature-distance matrix. A :class:`LayoutMaker` turns it
into a layout (``make(problem) -> LayoutResult``); rivals are one file each, registered in
``automl_kit.registries.LAYOUTS``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from automl_kit.ehr.fitness import LayoutFitness, check_layout
from automl_kit.utils.io import write_csv, write_json


def grid_shape(n_features: int, width: int | None = None, height: int | None = None):
    """``(rows, cols)`` for ``n_features``: the smallest square unless width/height are given.

    >>> grid_shape(10), grid_shape(10, width=5), grid_shape(4, 2, 2)
    ((4, 4), (2, 5), (2, 2))
    """
    if n_features < 1:
        raise ValueError("a layout needs at least one feature; the tables hold none.")
    for name, value in (("width", width), ("height", height)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"{name} must be a whole number >= 1 or None, got {value!r}.")
    if width is None and height is None:
        width = height = math.ceil(math.sqrt(n_features))
    elif width is None:
        width = math.ceil(n_features / height)
    elif height is None:
        height = math.ceil(n_features / width)
    if width * height < n_features:
        raise ValueError(
            f"{n_features} features do not fit a {width} x {height} grid; enlarge it "
            f"(at least {n_features} cells) or leave width/height as None."
        )
    return int(height), int(width)


def feature_distances(values: np.ndarray) -> np.ndarray:
    """``1 - Pearson correlation`` between the columns of ``values`` (samples x features);
    a constant column is uncorrelated with every other (distance 1), 0 to itself."""
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean(axis=0)
    norm = np.sqrt((x**2).sum(axis=0))
    safe = np.where(norm > 0, norm, 1.0)
    corr = (x.T @ x) / np.outer(safe, safe)
    corr[norm == 0, :] = 0.0
    corr[:, norm == 0] = 0.0
    distance = 1.0 - np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(distance, 0.0)
    return distance


@dataclass
class LayoutProblem:
    """A layout task: place ``features`` on a ``shape`` grid.

    ``kinds`` is each feature's code type (dx/px/rx); ``fitness`` the thesis score;
    ``distances`` (features x features, optional) what the embedding and IGTD layouts use.
    """

    features: list[str]
    kinds: list[str]
    shape: tuple[int, int]
    fitness: LayoutFitness
    distances: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def cells(self) -> int:
        return self.shape[0] * self.shape[1]

    @classmethod
    def from_relations(
        cls,
        relations: pd.DataFrame,
        *,
        shape: tuple[int, int] | None = None,
        n_neighbours: int = 5,
        penalty: float | None = None,
        distances: np.ndarray | None = None,
        extra: list[str] | tuple[str, ...] = (),
    ) -> LayoutProblem:
        """Diagnoses (rows of ``relations``) first, then treatments (its columns), then ``extra``
        codes related to nothing; ``shape`` defaults to the smallest square grid."""
        dx, tx = [str(c) for c in relations.index], [str(c) for c in relations.columns]
        extra = [str(c) for c in extra if str(c) not in set(dx) | set(tx)]
        features = dx + tx + extra
        kinds = [f.split(":", 1)[0] if ":" in f else "dx" for f in dx]
        kinds += [f.split(":", 1)[0] if ":" in f else "rx" for f in tx]
        kinds += [f.split(":", 1)[0] if ":" in f else "other" for f in extra]
        shape = tuple(shape) if shape is not None else grid_shape(len(features))
        fitness = LayoutFitness(
            relations.to_numpy(),
            diagnoses=np.arange(len(dx)),
            treatments=np.arange(len(dx), len(dx) + len(tx)),
            shape=shape,
            n_neighbours=n_neighbours,
            penalty=penalty,
        )
        fitness.n_features = len(features)
        if distances is not None and np.shape(distances) != (len(features),) * 2:
            raise ValueError(
                f"distances must be {len(features)} x {len(features)} (one row per feature), "
                f"got {np.shape(distances)}."
            )
        return cls(features, kinds, shape, fitness, distances)

    def fingerprint(self) -> dict:
        """What a resumed layout search must find unchanged."""
        import zlib

        return {
            "features": len(self.features),
            "shape": list(self.shape),
            "crc32": zlib.crc32(
                ("|".join(self.features)).encode()
                + np.ascontiguousarray(self.fitness.neighbours).tobytes()
            ),
        }


@dataclass
class LayoutResult:
    """A layout and how it was found: ``layout`` (cells, feature index or -1), its thesis
    ``fitness``, the per-generation ``history`` (GA), ``seconds`` and ``stop_reason``."""

    method: str
    layout: np.ndarray
    shape: tuple[int, int]
    features: list[str]
    fitness: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stop_reason: str = ""
    from_earlier_run: bool = False

    def grid(self) -> np.ndarray:
        """The layout as a ``(rows, cols)`` array of codes ('' for empty cells)."""
        names = np.array([*self.features, ""], dtype=object)
        return names[self.layout].reshape(self.shape)

    def summary(self) -> dict:
        gens = len(self.history)
        return {
            "method": self.method,
            "shape": list(self.shape),
            "n_features": len(self.features),
            "fitness": float(self.fitness),
            "generations": gens,
            "generations_per_second": gens / self.seconds if gens and self.seconds > 0 else None,
            "seconds": round(self.seconds, 3),
            "stop_reason": self.stop_reason,
        }

    def to_json(self) -> dict:
        return {**self.summary(), "layout": self.layout.tolist(), "features": self.features}

    @classmethod
    def from_json(cls, data: dict, history: list[dict] | None = None) -> LayoutResult:
        return cls(
            data["method"],
            np.asarray(data["layout"], dtype=np.int64),
            tuple(data["shape"]),
            list(data["features"]),
            float(data["fitness"]),
            history or [],
            float(data.get("seconds", 0.0)),
            data.get("stop_reason", ""),
        )

    def save(self, run_dir) -> None:
        """``layout.json`` (cells, codes, summary) and, for a GA, ``layout_history.csv``."""
        root = Path(run_dir)
        root.mkdir(parents=True, exist_ok=True)
        write_json(root / "layout.json", {**self.to_json(), "grid": self.grid().tolist()})
        if self.history:
            write_csv(root / "layout_history.csv", self.history)


class LayoutMaker:
    """Base class: ``make(problem) -> LayoutResult``; subclasses set ``name`` and ``_make``."""

    name = "layout"

    def __init__(self, *, seed: int = 0, verbose: int = 0):
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {seed!r}.")
        self.seed, self.verbose = int(seed), int(verbose)

    def get_config(self) -> dict:
        return {"seed": self.seed, "verbose": self.verbose}

    @classmethod
    def from_config(cls, config: dict) -> LayoutMaker:
        return cls(**config)

    def make(self, problem: LayoutProblem, *, run_dir=None, resume: bool = False) -> LayoutResult:
        """The layout for ``problem``. ``run_dir``/``resume``: checkpoints of a maker that runs
        long (:class:`PermutationGA`); the quick makers have none and ignore them."""
        started = time.perf_counter()
        layout = check_layout(self._make(problem), problem.n_features, problem.cells)
        return LayoutResult(
            self.name,
            layout,
            problem.shape,
            list(problem.features),
            float(problem.fitness(layout)[0]),
            seconds=time.perf_counter() - started,
        )

    def _make(self, problem: LayoutProblem) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


__all__ = ["LayoutMaker", "LayoutProblem", "LayoutResult", "feature_distances", "grid_shape"]
