"""precision_at_k (thesis Sec. 5.3.2) and the layout-speed helper the benchmark calls."""

from __future__ import annotations

import numpy as np
import pytest

from automl_kit.ehr import layout_speed
from automl_kit.utils.metrics import precision_at_k


def test_precision_at_k_counts_positives_among_the_top_k():
    y = np.array([1, 0, 1, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    assert [precision_at_k(y, scores, k) for k in (1, 2, 3, 6)] == [1.0, 0.5, 2 / 3, 0.5]
    # ties at the cut: the earlier sample wins, every time
    assert precision_at_k([0, 1], [0.5, 0.5], 1) == 0.0


@pytest.mark.parametrize(
    "y, s, k, fragment",
    [
        ([0, 1], [0.1, 0.2], 3, "k must be"),
        ([0, 1], [0.1, 0.2], 0, "k must be"),
        ([0, 2], [0.1, 0.2], 1, "0/1"),
        ([0, 1], [0.1, np.nan], 1, "finite"),
        ([0, 1], [0.1], 1, "one entry per sample"),
    ],
)
def test_precision_at_k_refuses_bad_input(y, s, k, fragment):
    with pytest.raises(ValueError, match=fragment):
        precision_at_k(y, s, k)


def test_layout_speed_reports_rate_and_convergence():
    figures = layout_speed(30, generations=60, population=12)
    assert figures["generations"] == 60 and figures["generations_per_second"] > 0
    assert 1 <= figures["generations_to_converge"] <= 60
    assert figures["lower_bound"] <= figures["fitness"] <= figures["first_fitness"]
    assert figures["fitness"] < figures["random_fitness"]
