"""Freezing rates and the frozen prefix (Xiao, thesis Part 3, Eqs. 3.1, 3.3, 3.4).

Reading of the points the thesis leaves open:

* **F'_1.** Eq. 3.3 leaves the first and the last layer out of the mean and standard deviation
  (the first layer's rate is typically extreme and the last layer's very low, Figs. 3.2/3.3, so
  either would distort the scale). We still standardise *every* layer with those statistics, so
  ``F'_1 = (F_1 - mean) / std`` is on the same scale as the others and the prefix (which must start
  at layer 1) can include it. The last layer is never a candidate for freezing.
* **Second maximum subarray.** Freezing only saves backward work as a prefix (Fig. 3.4), so the
  second group must extend the first: with prefix sums ``S_k = sum_{l<=k} F'_l``, group 1 ends at
  ``n1 = argmax_k S_k`` (Eq. 3.4) and group 2 is layers ``n1+1 .. n2`` with
  ``n2 = argmax_{k > n1} S_k``, the best of the longer prefixes. An epoch that freezes group 2
  freezes layers ``1 .. n2``.
* A non-positive best prefix sum freezes nothing (every candidate prefix would freeze more layers
  that want training than layers that do not).
* **Ties go to the shorter prefix.** The middle layers' standardised rates sum to exactly zero, so
  ``S_{L-1} = S_1``: the prefix of all layers but the last always ties with layer 1 alone, and
  ``argmax`` let rounding (1e-14) decide. In our CIFAR-10 benchmark that froze 21 of ResNet-20's
  22 units in 3 of 36 measurements. A longer prefix must have a larger sum, not an equal one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def freezing_rate(gradients: Sequence[np.ndarray]) -> float:
    """Eq. 3.1 for one layer from its per-iteration gradients (any shape, same for all iterations).

    ``1 - sum_i |sum_j g_ij| / sum_i sum_j |g_ij|``: 0 when every weight's gradient keeps its
    sign over the iterations, 1 when they cancel out; 1 when all gradients are zero.

    >>> freezing_rate([np.array([1.0, -2.0]), np.array([3.0, -1.0])])
    0.0
    """
    stacked = np.asarray([np.ravel(g) for g in gradients], dtype=np.float64)
    return freezing_rate_from_sums(np.abs(stacked.sum(axis=0)).sum(), np.abs(stacked).sum())


def freezing_rate_from_sums(abs_of_sum: float, sum_of_abs: float) -> float:
    """Eq. 3.1 from the two accumulated sums (what the training step keeps per layer)."""
    if sum_of_abs <= 0.0:
        return 1.0
    return float(np.clip(1.0 - abs_of_sum / sum_of_abs, 0.0, 1.0))


def standardize_rates(rates: Sequence[float]) -> np.ndarray:
    """Eq. 3.3: ``(F - mean) / std`` with mean and std over layers 2..L-1 (see module docstring).

    Fewer than three layers, or equal rates in the middle, give all zeros (no evidence to freeze).
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 1:
        raise ValueError(f"rates must be one value per layer, got shape {rates.shape}.")
    if not np.all(np.isfinite(rates)):
        raise ValueError(
            "freezing rates must be finite; a frozen layer has no rate for this epoch."
        )
    middle = rates[1:-1]
    if middle.size == 0 or middle.std() == 0.0:
        return np.zeros_like(rates)
    return (rates - middle.mean()) / middle.std()


def _prefix_sums(standardized: Sequence[float]) -> np.ndarray:
    values = np.asarray(standardized, dtype=np.float64)
    # the last layer is never frozen, so prefixes end at layer L-1 at the latest
    return np.cumsum(values[:-1]) if values.size > 1 else np.zeros(0)


def _shortest_argmax(sums: np.ndarray) -> int:
    """Index of the largest value, the first among values equal to it up to rounding."""
    return int(np.flatnonzero(sums >= sums.max() - 1e-9 * max(1.0, abs(sums.max())))[0])


def layers_to_freeze(standardized: Sequence[float]) -> int:
    """Eq. 3.4: the length n of the prefix with the largest sum of standardised rates (0: none).

    Among equal sums the shortest prefix wins (see the module docstring).

    >>> layers_to_freeze([1.0, -0.5, 2.0, -3.0])
    3
    >>> layers_to_freeze([2.0, -1.0, 0.5, 0.5, 9.0])  # S_1 = S_4 = 2: one layer, not four
    1
    """
    sums = _prefix_sums(standardized)
    if sums.size == 0 or sums.max() <= 0.0:
        return 0
    return _shortest_argmax(sums) + 1


def second_group_end(standardized: Sequence[float], first: int) -> int:
    """End of the second group: the best prefix longer than ``first`` (0 if there is none)."""
    sums = _prefix_sums(standardized)
    if first == 0 or first >= sums.size:
        return 0
    return first + 1 + _shortest_argmax(sums[first:])
