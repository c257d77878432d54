"""Prior calibration, the join's simple rival: one bias shift, chosen on validation tables."""

import keras
import numpy as np
import pytest

from automl_kit.tweak.calibration import PriorCalibration
from automl_kit.tweak.tables import SynapticTables, extract_tables


def _tables(C, labels):
    return SynapticTables([np.zeros((1, len(labels)))], np.asarray(C), labels, [("h", 1)])


def test_mu_raises_the_target_within_the_tolerance_and_prefers_the_smallest():
    # class 1 is under-predicted: a shift of log 1.25 fixes sample 0 without costing sample 1
    tables = _tables([[2.0, 2.0, 0.1, 0.2], [1.8, 1.5, 2.0, 1.0]], [1, 0, 1, 0])
    calibration = PriorCalibration([1]).fit(tables)
    assert calibration.mu_ == 1.25
    assert [g["mu"] for g in calibration.selection_] == list(calibration.mu_candidates)
    np.testing.assert_allclose(calibration.add_to_logits(tables)[1], tables.C[1] + np.log(1.25))
    # nothing within the max_drop: no shift (mu 1)
    worse = _tables([[2.0, 0.0], [1.0, 0.0]], [0, 0])
    assert PriorCalibration([1], mu_candidates=[4.0, 8.0]).fit(worse).mu_ == 1.0


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"targets": []}, "non-empty list"),
        ({"targets": [1, 1]}, "distinct"),
        ({"targets": [1], "mu_candidates": [0.5]}, "factors >= 1"),
        ({"targets": [1], "mu_candidates": [float("inf")]}, "finite"),
        ({"targets": [1], "max_drop": float("nan")}, "max_drop"),
    ],
)
def test_bad_settings_are_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        PriorCalibration(**kwargs)


def test_apply_shifts_the_heads_bias_and_predicts_what_the_tables_say():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 5), dtype=np.float32), np.arange(60) % 3
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    tables = extract_tables(model, x, y, layers=["hidden"])
    calibration = PriorCalibration([2], mu_candidates=[6.0]).fit(tables)
    calibration.mu_ = 6.0  # as if chosen: the applied model must predict the shifted logits
    tweaked = calibration.apply(model)
    np.testing.assert_array_equal(
        tweaked.predict(x, verbose=0).argmax(1), calibration.add_to_logits(tables).argmax(0)
    )
    # the original is left as it was
    np.testing.assert_array_equal(model.predict(x, verbose=0).argmax(1), tables.C.argmax(0))
    with pytest.raises(ValueError, match="not fitted"):
        PriorCalibration([0]).apply(model)
