"""Satisficing and optimizing selection (seed 002, "The accuracy must be the highest but
available at the acceptable time, e.g. < 100 ms"): maximise one metric among the candidates
that satisfy every constraint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the metrics a candidate is measured on; "lower is better" for the second group
MAXIMISED = ("accuracy", "harmonic_mean", "macro_f1")
MINIMISED = ("latency_ms", "error", "parameters")


def measure_latency(
    model,
    x: np.ndarray,
    *,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median wall-clock milliseconds of one ``model(batch)`` call on ``batch_size`` samples.

    Warm-up calls first (tracing, memory), then ``repeats`` timed calls on the first batch;
    the median resists the odd slow call of a shared machine.
    """
    if repeats < 1 or warmup < 0 or batch_size < 1:
        raise ValueError("repeats and batch_size must be >= 1 and warmup >= 0.")
    if len(x) < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} samples to time, got {len(x)}.")
    batch = np.asarray(x[:batch_size])
    for _ in range(warmup):
        np.asarray(model(batch, training=False))
    times = []
    for _ in range(repeats):
        start = clock()
        np.asarray(model(batch, training=False))  # np.asarray waits for the device result
        times.append((clock() - start) * 1000.0)
    return float(np.median(times))


@dataclass
class Selection:
    """The outcome of :func:`select_model`: the chosen name and every candidate's measurements."""

    chosen: str | None
    optimize: str
    satisfy: dict[str, float]
    measurements: dict[str, dict[str, float]]
    feasible: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "chosen": self.chosen,
            "optimize": self.optimize,
            "satisfy": dict(self.satisfy),
            "feasible": list(self.feasible),
            "measurements": {k: dict(v) for k, v in self.measurements.items()},
        }

    def save(self, run_dir) -> Any:
        from automl_kit.utils.rundir import RunDirectory

        run = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
        run.root.mkdir(parents=True, exist_ok=True)
        return run.write_json("selection.json", self.summary())


def choose(
    measurements: Mapping[str, Mapping[str, float]],
    optimize: str = "accuracy",
    satisfy: Mapping[str, float] | None = None,
) -> Selection:
    """Pick the best of measured candidates: ``optimize`` maximised (minimised for
    ``latency_ms``/``error``/``parameters``) among those with every ``satisfy`` metric below
    its bound (a ``*_min`` key, e.g. ``accuracy_min``, is a lower bound instead).

    >>> deck = {"A": (0.945, 70), "B": (0.950, 95), "C": (0.943, 35), "D": (0.955, 240),
    ...         "E": (0.968, 980), "F": (0.945, 60)}
    >>> m = {k: {"accuracy": a, "latency_ms": t} for k, (a, t) in deck.items()}
    >>> choose(m, "accuracy", {"latency_ms": 100}).chosen
    'B'
    """
    satisfy = dict(satisfy or {})
    if not measurements:
        raise ValueError("no candidates to choose from; pass at least one model.")
    for name, values in measurements.items():
        missing = [k for k in (optimize, *(_bound_metric(b) for b in satisfy)) if k not in values]
        if missing:
            raise ValueError(
                f"candidate {name!r} has no measurement of {', '.join(missing)}; measured: "
                f"{', '.join(values)}."
            )
    sign = -1.0 if optimize in MINIMISED else 1.0
    feasible = [name for name, values in measurements.items() if _satisfies(values, satisfy)]
    chosen = max(feasible, key=lambda n: sign * measurements[n][optimize], default=None)
    return Selection(
        chosen,
        optimize,
        {k: float(v) for k, v in satisfy.items()},
        {k: {m: float(v) for m, v in vals.items()} for k, vals in measurements.items()},
        feasible,
    )


def _bound_metric(key: str) -> str:
    return key[: -len("_min")] if key.endswith("_min") else key


def _satisfies(values: Mapping[str, float], satisfy: Mapping[str, float]) -> bool:
    for key, bound in satisfy.items():
        value = values[_bound_metric(key)]
        # the deck's "< 100 ms" is strict; lower bounds (accuracy_min) are inclusive
        if key.endswith("_min") and not value >= bound:
            return False
        if not key.endswith("_min") and not value < bound:
            return False
    return True


def select_model(
    candidates: Mapping[str, Any],
    data: Any,
    optimize: str = "accuracy",
    satisfy: Mapping[str, float] | None = None,
    *,
    batch_size: int = 1,
    repeats: int = 20,
    split: str = "val",
    run_dir=None,
    measure: Callable[[Any, np.ndarray], float] | None = None,
) -> Selection:
    """Measure each candidate on ``data`` (a Dataset or ``(x, y)``) and choose (seed 002).

    ``candidates``: ``{name: keras model}``. Measured: ``accuracy``, ``error``,
    ``harmonic_mean`` (of per-class accuracy), ``macro_f1``, ``parameters`` and ``latency_ms``
    (median of ``repeats`` timed calls on ``batch_size`` samples; ``measure(model, x)``
    replaces the timer, e.g. for a deployment device).
    """
    from automl_kit.datasets import Dataset
    from automl_kit.diagnose._evaluate import predict_probabilities
    from automl_kit.utils.metrics import per_class_report

    satisfy = {"latency_ms": 100.0} if satisfy is None else dict(satisfy)
    known = (*MAXIMISED, *MINIMISED)
    for key in (optimize, *(_bound_metric(k) for k in satisfy)):
        if key not in known:
            raise ValueError(f"unknown metric {key!r}; choose one of: {', '.join(known)}.")
    for key, bound in satisfy.items():
        if not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ValueError(f"satisfy[{key!r}] must be a finite number, got {bound!r}.")
    if not isinstance(candidates, Mapping) or not candidates:
        raise ValueError("candidates must be a non-empty dict {name: keras model}.")
    if isinstance(data, Dataset):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        names = list(data.class_names)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        names = None
    else:
        raise ValueError("data must be a Dataset or a pair (x, y).")
    timer = measure or (
        lambda m, xs: measure_latency(m, xs, batch_size=batch_size, repeats=repeats)
    )
    measurements = {}
    for name, model in candidates.items():
        predicted = predict_probabilities(model, x).argmax(axis=1)
        report = per_class_report(y, predicted, names)
        measurements[name] = {
            "accuracy": report.accuracy,
            "error": report.error,
            "harmonic_mean": report.harmonic("recall"),
            "macro_f1": report.macro("f1"),
            "parameters": float(model.count_params()),
            "latency_ms": float(timer(model, x)),
        }
    selection = choose(measurements, optimize, satisfy)
    if run_dir is not None:
        selection.save(run_dir)
    return selection
