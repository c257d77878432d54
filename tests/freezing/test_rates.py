"""Xiao Eqs. 3.1, 3.3 and 3.4 against hand-computed values."""

import numpy as np
import pytest

from automl_kit.freezing import (
    freezing_rate,
    freezing_rate_from_sums,
    layers_to_freeze,
    second_group_end,
    standardize_rates,
)


def test_agreeing_signs_give_zero():
    gradients = [np.array([[1.0, -2.0]]), np.array([[0.5, -1.0]]), np.array([[3.0, -0.1]])]
    assert freezing_rate(gradients) == 0.0


def test_cancelling_gradients_give_one():
    assert freezing_rate([np.array([1.0, -2.0]), np.array([-1.0, 2.0])]) == 1.0


def test_all_zero_gradients_give_one():
    assert freezing_rate([np.zeros(3), np.zeros(3)]) == 1.0


def test_mixed_case_by_hand():
    # weight 1: +1 then -1 (|sum| 0, sum|.| 2); weight 2: +2 then +2 (|sum| 4, sum|.| 4)
    assert freezing_rate([np.array([1.0, 2.0]), np.array([-1.0, 2.0])]) == pytest.approx(1 - 4 / 6)
    assert freezing_rate_from_sums(4.0, 6.0) == pytest.approx(1 / 3)


def test_standardisation_leaves_first_and_last_out_of_the_statistics():
    rates = [10.0, 1.0, 2.0, 3.0, -5.0]
    std = np.std([1.0, 2.0, 3.0])
    expected = (np.array(rates) - 2.0) / std
    np.testing.assert_allclose(standardize_rates(rates), expected)


def test_standardisation_without_spread_freezes_nothing():
    np.testing.assert_array_equal(standardize_rates([0.9, 0.5, 0.5, 0.5, 0.1]), np.zeros(5))
    np.testing.assert_array_equal(standardize_rates([0.2, 0.2]), [0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        standardize_rates([0.1, np.nan, 0.3])


def test_prefix_choice():
    assert layers_to_freeze([1.0, -0.5, 2.0, -3.0]) == 3
    assert layers_to_freeze([-1.0, 2.0, -0.1]) == 2  # sums -1, 1: the second prefix wins
    assert layers_to_freeze([-1.0, -2.0, 5.0]) == 0  # the last layer never freezes
    assert layers_to_freeze([1.0, 1.0, 1.0]) == 2
    assert layers_to_freeze([-0.5, 0.2, 0.1, 3.0]) == 0  # no positive prefix sum


# Rates that froze 21 of ResNet-20's 22 units (freezing benchmark, CIFAR-10, seed 1, epoch 0): unit 1
# is highest, the next units below the mean, the last ones above it. The middle standardised rates
# sum to zero, so S_21 = S_1 and rounding decided between 1 and 21 units.
TIE = [0.84, 0.81, 0.82, 0.82, 0.83, 0.83, 0.83, 0.83, 0.82, 0.83, 0.82]
TIE = TIE + [0.83, 0.82, 0.84, 0.83, 0.83, 0.84, 0.84, 0.85, 0.85, 0.86, 0.95]


def test_a_tie_between_prefixes_goes_to_the_shorter_one():
    standardized = standardize_rates(TIE)
    assert abs(standardized[1:-1].sum()) < 1e-12
    assert layers_to_freeze(standardized) == 1
    assert layers_to_freeze([1.0, -0.7, 0.3, 0.4, -0.4, 5.0]) == 1  # S_1 = S_5 = 1


def test_second_group_extends_the_first():
    standardized = [2.0, -1.0, -0.5, 1.0, 0.2, -3.0]  # prefix sums 2, 1, 0.5, 1.5, 1.7
    first = layers_to_freeze(standardized)
    assert first == 1
    assert second_group_end(standardized, first) == 5
    assert second_group_end(standardized, 0) == 0
    assert second_group_end([1.0, 1.0, -1.0], 2) == 0  # nothing longer is allowed
