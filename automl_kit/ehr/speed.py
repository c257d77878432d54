"""How fast the layout GA runs: generations per second and time to converge on a planted
problem (for ``benchmarks/ehr_boost.py`` and the README's figures).

>>> figures = layout_speed(20, generations=50)
>>> figures["n_features"], figures["generations"], figures["fitness"] < figures["random_fitness"]
(20, 50, True)
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from automl_kit.ehr.layouts.base import LayoutProblem
from automl_kit.ehr.layouts.ga import PermutationGA
from automl_kit.ehr.layouts.random import RandomLayout


def planted_relations(n_features: int, *, seed: int = 0) -> pd.DataFrame:
    """P(t | d) for ``n_features`` codes, half diagnoses and half treatments: each treatment
    has one strongly related diagnosis (0.9) and weak ones (< 0.05) elsewhere."""
    if n_features < 2:
        raise ValueError(
            f"n_features must be at least 2 (a diagnosis and a treatment), got {n_features}."
        )
    rng = np.random.default_rng(seed)
    n_dx = n_features // 2
    n_tx = n_features - n_dx
    p = rng.random((n_dx, n_tx)) * 0.05
    p[rng.integers(n_dx, size=n_tx), np.arange(n_tx)] = 0.9
    return pd.DataFrame(
        p, [f"dx:{i:04d}" for i in range(n_dx)], [f"rx:{i:04d}" for i in range(n_tx)]
    )


def layout_speed(
    n_features: int,
    *,
    generations: int = 1000,
    population: int = 60,
    n_neighbours: int = 5,
    time_budget: float | None = None,
    seed: int = 0,
) -> dict:
    """Run the GA on a planted problem of ``n_features`` codes; JSON-able figures.

    ``generations_to_converge``: the first generation whose best fitness is within 1% of the
    final best's gain over the first generation's best (so "converged" = 99% of the improvement
    made); ``seconds_to_converge`` scales it by the measured generations per second.
    """
    problem = LayoutProblem.from_relations(
        planted_relations(n_features, seed=seed), n_neighbours=n_neighbours
    )
    ga = PermutationGA(  # all generations: a speed figure, not a search that may stop early
        population=population,
        generations=generations,
        time_budget=time_budget,
        stop_at_lower_bound=False,
        seed=seed,
    )
    started = time.perf_counter()
    result = ga.make(problem)
    seconds = time.perf_counter() - started
    best = np.array([row["best_so_far"] for row in result.history])
    gain = best[0] - best[-1]
    converged = int(np.argmax(best <= best[-1] + 0.01 * gain)) + 1 if len(best) else 0
    per_second = len(best) / seconds if seconds > 0 else float("nan")
    return {
        "n_features": n_features,
        "shape": list(problem.shape),
        "population": population,
        "generations": len(best),
        "seconds": seconds,
        "generations_per_second": per_second,
        "generations_to_converge": converged,
        "seconds_to_converge": converged / per_second if per_second else None,
        "fitness": result.fitness,
        "first_fitness": float(best[0]) if len(best) else None,
        "random_fitness": RandomLayout(seed=seed).make(problem).fitness,
        "lower_bound": problem.fitness.best_possible,
    }


__all__ = ["layout_speed", "planted_relations"]
