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
