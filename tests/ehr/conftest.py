"""Hand-made EHR tables and planted layout problems shared by the ehr tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_kit.ehr.layouts.base import LayoutProblem


def hand_events() -> pd.DataFrame:
    """Three patients, two windows each (the ``window`` column), hand-countable co-occurrence.

    Windows (baskets): p1/w0 {dx:a, rx:x}, p1/w1 {dx:a, dx:b, px:y}, p2/w0 {dx:a, rx:x, px:y},
    p3/w1 {dx:b}. So P(rx:x | dx:a) = 2/3, P(px:y | dx:a) = 2/3, P(px:y | dx:b) = 1/2,
    P(rx:x | dx:b) = 0.
    """
    rows = [
        (1, "2020-01-01", "dx:a", "dx", 0),
        (1, "2020-01-01", "rx:x", "rx", 0),
        (1, "2020-01-02", "rx:x", "rx", 0),  # twice in one basket: still one basket
        (1, "2020-03-01", "dx:a", "dx", 1),
        (1, "2020-03-02", "dx:b", "dx", 1),
        (1, "2020-03-02", "px:y", "px", 1),
        (2, "2020-01-05", "dx:a", "dx", 0),
        (2, "2020-01-05", "rx:x", "rx", 0),
        (2, "2020-01-06", "px:y", "px", 0),
        (3, "2020-03-09", "dx:b", "dx", 1),
    ]
    frame = pd.DataFrame(rows, columns=["patient_id", "date", "code", "code_type", "window"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def planted_relations(n_dx: int, n_tx: int, seed: int = 0) -> pd.DataFrame:
    """Each treatment has one strongly related diagnosis (0.9) among weak noise (< 0.05)."""
    rng = np.random.default_rng(seed)
    p = rng.random((n_dx, n_tx)) * 0.05
    p[rng.integers(n_dx, size=n_tx), np.arange(n_tx)] = 0.9
    return pd.DataFrame(
        p, [f"dx:{i:03d}" for i in range(n_dx)], [f"rx:{i:03d}" for i in range(n_tx)]
    )


@pytest.fixture(scope="module")
def planted_problem() -> LayoutProblem:
    return LayoutProblem.from_relations(planted_relations(18, 18), n_neighbours=3)
