"""Eq. 5.1 on a hand-made table; the thesis fitness on hand-made grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_kit.ehr.fitness import LayoutFitness, check_layout, to_chromosome, to_layout
from automl_kit.ehr.relations import conditional_probabilities
from tests.ehr.conftest import hand_events


def test_conditional_probabilities_per_window_by_hand():
    p = conditional_probabilities(hand_events(), scope="window")
    assert list(p.index) == ["dx:a", "dx:b"] and list(p.columns) == ["px:y", "rx:x"]
    np.testing.assert_allclose(p.to_numpy(), [[2 / 3, 2 / 3], [1 / 2, 0.0]])


def test_conditional_probabilities_per_patient_and_claim_by_hand():
    patient = conditional_probabilities(hand_events(), scope="patient")
    # patients: 1 {a, b, x, y}, 2 {a, x, y}, 3 {b}
    np.testing.assert_allclose(patient.to_numpy(), [[1.0, 1.0], [0.5, 0.5]])
    claim = conditional_probabilities(hand_events(), scope="claim")
    # claims with dx:a: p1 01-01 {a, x}, p1 03-01 {a}, p2 01-05 {a, x}; dx:b: p1 03-02 {b, y}, p3
    np.testing.assert_allclose(claim.to_numpy(), [[0.0, 2 / 3], [0.5, 0.0]])


def test_conditional_probabilities_uses_the_tables_windows():
    from automl_kit.datasets import ehr_example

    tables = ehr_example()
    p = conditional_probabilities(tables, scope="window")
    events = tables.events.assign(window=tables.window_of())
    pd.testing.assert_frame_equal(p, conditional_probabilities(events, scope="window"))


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda e: e.drop(columns="code_type"), "code_type"),
        (lambda e: e.assign(code_type="lab"), "unknown code_type"),
        (lambda e: e.drop(columns="window"), "needs the time windows"),
    ],
)
def test_conditional_probabilities_bad_input(change, fragment):
    with pytest.raises(ValueError, match=fragment):
        conditional_probabilities(change(hand_events()), scope="window")
    with pytest.raises(ValueError, match="unknown scope"):
        conditional_probabilities(hand_events(), scope="visit")
    with pytest.raises(ValueError, match="EHRTables"):
        conditional_probabilities([1, 2, 3])


def _fitness(**kw):
    # features 0, 1, 2 diagnoses; 3, 4 treatments; on a 3 x 3 grid
    relations = np.array([[0.9, 0.0], [0.5, 0.2], [0.1, 0.0]])
    return LayoutFitness(relations, diagnoses=[0, 1, 2], treatments=[3, 4], shape=(3, 3), **kw)


def test_fitness_on_a_hand_made_grid():
    fit = _fitness(n_neighbours=3, penalty=10)
    # treatment 3: N1 = 0, N2 = 1, N3 = 2; treatment 4: N1 = 1 (only one related diagnosis)
    assert fit.neighbours.tolist() == [[0, 1, 2], [1, -1, -1]]
    best = np.array([[0, 3, -1, -1, -1, -1, 1, 4, 2]]).reshape(1, 9)
    #  0 3 .     treatment 3 at (0,1) touches 0 (N1): T = 1
    #  . . .     treatment 4 at (2,1) touches 1 (N1): T = 1
    #  1 4 2
    worse = np.array([[2, 3, -1, -1, -1, -1, 0, 4, 1]])  # 3 touches only 2 (N3); 4 touches 1
    far = np.array([[3, -1, 4, -1, -1, -1, 0, 1, 2]])  # 3 at (0,0) touches none; 4 at (0,2) none
    values = fit(np.concatenate([best, worse, far]))
    assert values.tolist() == [2.0, 4.0, 20.0]
    assert fit.best_possible == 2.0 and fit.worst_possible == 20.0


def test_fitness_accepts_chromosomes_and_diagonals_count():
    fit = _fitness(n_neighbours=3, penalty=10)
    layout = np.array([0, -1, -1, -1, 3, -1, 4, 1, 2])  # 0 diagonal to 3; 4 beside 1
    chrom = to_chromosome(layout, 5)
    assert sorted(chrom.tolist()) == list(range(9))
    np.testing.assert_array_equal(to_layout(chrom, 5), layout)
    assert fit(layout)[0] == fit(chrom)[0] == 2.0


def test_treatment_without_relations_is_left_out_and_bad_settings_refused():
    relations = np.array([[0.0, 0.4]])
    fit = LayoutFitness(relations, diagnoses=[0], treatments=[1, 2], shape=(1, 3))
    assert fit.treatments.tolist() == [2]
    with pytest.raises(ValueError, match="penalty"):
        _fitness(n_neighbours=3, penalty=2)
    with pytest.raises(ValueError, match="do not fit"):
        LayoutFitness(relations, diagnoses=[0], treatments=[1, 2], shape=(1, 2))
    with pytest.raises(ValueError, match="rows = diagnoses"):
        LayoutFitness(relations.T, diagnoses=[0], treatments=[1, 2], shape=(2, 2))
    with pytest.raises(ValueError, match="cells"):
        fit(np.zeros((2, 5), int))


def test_check_layout_names_the_problem():
    assert check_layout([1, -1, 0], 2, 3).tolist() == [1, -1, 0]
    with pytest.raises(ValueError, match="exactly once"):
        check_layout([1, 1, 0], 2, 3)
    with pytest.raises(ValueError, match="one entry per grid cell"):
        check_layout([1, 0], 2, 3)
    with pytest.raises(ValueError, match="integer"):
        check_layout([1.0, 0.0, -1.0], 2, 3)
