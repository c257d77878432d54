import numpy as np
import pytest

from automl_kit.utils import check_classification_data, check_features, check_labels


def test_valid_data_is_converted():
    x, y = check_classification_data(
        np.ones((3, 4), np.float64), [0, 1, 1.0], num_classes=2, rank=2
    )
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    "x, y, kwargs, message",
    [
        (np.ones((3, 2)), [0, 1], {}, "y has 2 labels but the features have 3 samples"),
        (
            np.array([[np.nan, 1.0], [0, 1]]),
            [0, 1],
            {},
            r"NaN/inf value\(s\), first at index \(0, 0\)",
        ),
        (np.array([[np.inf, 1.0], [0, 1]]), [0, 1], {}, "NaN/inf"),
        (np.ones((2, 2)), [0, 3], {"num_classes": 3}, r"labels in 0..3, outside 0..2"),
        (np.ones((2, 2)), [-1, 0], {}, "outside 0..K-1"),
        (np.ones((2, 2)), [0.5, 1], {}, "non-integer"),
        (np.ones((2, 2)), ["cat", "dog"], {}, "LabelEncoder"),
        (np.ones((2, 2)), np.eye(2), {}, r"one-hot encoded, pass y.argmax\(axis=1\)"),
        (np.ones((0, 2)), [], {}, "x is empty"),
        (np.ones((2, 8, 8)), [0, 1], {"rank": 4}, r"rank 4 .*x\[\.\.\., None\]"),
        (np.ones((2, 3, 3)), [0, 1], {"rank": 2}, "Flatten the features"),
        ([["a", "b"]], [0], {}, "must be numeric"),
    ],
)
def test_bad_input_names_problem_and_fix(x, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_classification_data(x, y, **kwargs)


def test_column_vector_labels_are_accepted():
    assert check_labels(np.array([[1], [0]])).tolist() == [1, 0]


def test_features_alone():
    assert check_features([[1, 2]], rank=(2, 4)).shape == (1, 2)


# ---- labels across splits, validation data, scale (issue 11: bad input caught before work) ----
import warnings  # noqa: E402

from automl_kit.utils import (  # noqa: E402
    DataWarning,
    check_scale,
    check_split_labels,
    check_training_data,
    check_validation_data,
)


@pytest.mark.parametrize(
    "y_train, y_val, kwargs, message",
    [
        (np.arange(1, 11), np.arange(1, 11), {}, r"labels are 1..10 with no class 0; .*subtract 1"),
        ([2, 3, 4], None, {}, r"labels are 2..4 .*subtract 2"),
        ([0, 1, 2], [0, 57], {}, "class 57 appears in y_val but not in y_train"),
        ([0, 1], [3, 4], {}, "classes 3, 4 appear in y_val but not in y_train"),
        ([3, 3, 3], [3], {}, r"single class \(3\)"),
        ([0, 0], None, {"class_names": ["cat", "dog"]}, r"single class \(0 \('cat'\)\)"),
        ([0, 2, 2], None, {}, r"class 1 of 0..2 has no samples in y_train"),
        ([0, 1, 2], None, {"num_classes": 4}, r"class 3 of 0..3 has no samples"),
        ([0, 1, 5], None, {"num_classes": 3}, r"labels in 0..5, outside 0..2"),
    ],
)
def test_split_labels_name_the_fix(y_train, y_val, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_split_labels(y_train, y_val, **kwargs)


def test_split_labels_accept_a_validation_set_missing_classes():
    assert check_split_labels([0, 1, 2, 2], [0, 0]) == 3
    assert check_split_labels([0, 1], [1], y_test=[0], num_classes=2) == 2
    with pytest.raises(ValueError, match="appears in y_test but not in y_train"):
        check_split_labels([0, 1], y_test=[2])


@pytest.mark.parametrize(
    "value, message",
    [
        (None, r"validation_data is required: pass validation_data=\(x_val, y_val\)"),
        ((np.zeros((2, 2)),), r"must be a pair \(x_val, y_val\); got a tuple of length 1"),
        (np.zeros((2, 2)), "got a ndarray"),
    ],
)
def test_validation_data_says_what_is_missing(value, message):
    with pytest.raises(ValueError, match=message):
        check_validation_data(value)


def test_training_data_checks_both_sets_together():
    x, y = np.zeros((6, 3)), [0, 1, 2, 0, 1, 2]
    checked = check_training_data(x, y, (np.zeros((2, 3)), [2, 1]), rank=2)
    assert [a.dtype for a in checked] == [np.float32, np.int64, np.float32, np.int64]
    with pytest.raises(ValueError, match="validation_data is required"):
        check_training_data(x, y, None)
    assert check_training_data(x, y, None, require_validation=False)[2] is None
    with pytest.raises(ValueError, match="class 7 appears in y_val"):
        check_training_data(x, y, (np.zeros((1, 3)), [7]))
    with pytest.raises(ValueError, match=r"x_val of \(4,\); they must match"):
        check_training_data(x, y, (np.zeros((1, 4)), [0]))
    with pytest.raises(ValueError, match="subtract 1"):
        check_training_data(x, np.array(y) + 1, (np.zeros((1, 3)), [1]))


def test_uint8_images_are_scaled_with_a_warning():
    x = np.full((2, 4, 4, 1), 255, np.uint8)
    with pytest.warns(DataWarning, match=r"x: uint8 images \(0..255\) scaled to \[0, 1\]"):
        arr, _ = check_classification_data(x, [0, 1], rank=4)
    assert arr.dtype == np.float32 and arr.max() == 1.0


def test_float_images_outside_unit_range_warn_but_are_kept():
    x = np.linspace(0, 255, 32, dtype=np.float32).reshape(2, 4, 4, 1)
    with pytest.warns(DataWarning, match=r"outside \[0, 1\].*divide by 255"):
        arr = check_features(x)
    assert arr.max() == 255.0
    with pytest.warns(DataWarning, match="normalised the images on purpose"):
        check_features(x - 128.0)


def test_wildly_scaled_features_warn_naming_columns():
    x = np.ones((3, 4))
    x[:, 2] = 1e6
    with pytest.warns(
        DataWarning,
        match=r"1 feature column\(s\) reach \|x\| = 1e\+06 \(columns 2\).*StandardScaler",
    ):
        check_features(x)


def test_well_scaled_data_and_small_uint8_stay_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        check_features(np.random.default_rng(0).random((3, 4, 4, 1)))
        check_features(np.full((3, 5), 999.0))
        assert check_scale(np.ones((2, 2, 2), np.float32), was_uint8=True).max() == 1.0
        check_features(np.ones((2, 2, 2, 1), np.uint8))  # 0/1 masks are not rescaled
        check_features(np.full((2, 8, 8, 1), 255, np.uint8), scale=False)
