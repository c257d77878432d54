"""Row indices and groups of the built-in sets: every sample can be traced to its source row."""

import numpy as np
import pandas as pd
import pytest

from automl_kit.datasets import load
from automl_kit.datasets._splits import select_grouped, split_pool
from tests.conftest import require_file


def test_digits_index_is_the_row_in_sklearn_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    data = load("digits", n_train=200, n_val=50, n_test=40, seed=4)
    assert data.kind == "image" and data.summary()["kind"] == "image"
    for split in ("train", "val", "test"):
        index = getattr(data, f"index_{split}")
        np.testing.assert_allclose(
            getattr(data, f"x_{split}")[..., 0], bunch.images[index] / 16.0, rtol=1e-6
        )
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), bunch.target[index])
    everything = np.concatenate([data.index_train, data.index_val, data.index_test])
    assert len(set(everything.tolist())) == len(everything)  # no row in two splits


def test_npz_index_is_the_row_of_the_array_it_came_from(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (120, 4, 4), dtype=np.uint8)
    x_test = rng.integers(0, 256, (30, 4, 4), dtype=np.uint8)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=x_train,
        y_train=np.arange(120) % 10,
        x_test=x_test,
        y_test=np.arange(30) % 10,
    )
    data = load("mnist", data_dir=tmp_path, n_train=50, n_test=10, seed=1)
    np.testing.assert_allclose(data.x_train[..., 0], x_train[data.index_train] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(data.x_val[..., 0], x_train[data.index_val] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(data.x_test[..., 0], x_test[data.index_test] / 255.0, rtol=1e-6)
    assert data.groups_train is None and data.summary()["grouped"] is False


def test_grouped_validation_split_on_a_synthetic_patient_frame():
    rng = np.random.default_rng(0)
    patients = rng.integers(0, 300, 1000)  # encounters of 300 patients, uneven counts
    y = (rng.random(1000) < 0.15).astype(np.int64)
    train, val = split_pool(y, n_train=None, n_val=100, seed=2, groups=patients)
    assert not set(patients[train]) & set(patients[val])
    assert len(set(train.tolist()) | set(val.tolist())) == 1000
    assert 90 <= len(val) <= 100
    # stratified as far as whole patients allow
    assert abs(y[val].mean() - y.mean()) < 0.05
    again, _ = split_pool(y, n_train=None, n_val=100, seed=2, groups=patients)
    np.testing.assert_array_equal(train, again)


def test_select_grouped_takes_whole_groups_and_rejects_tiny_sizes():
    y = np.array([0, 1] * 10)
    groups = np.repeat(np.arange(5), 4)
    idx = select_grouped(y, groups, 8, np.random.default_rng(0))
    assert len(idx) == 8 and len(set(groups[idx])) == 2
    with pytest.raises(ValueError, match="smaller than the smallest group"):
        select_grouped(y, groups, 3, np.random.default_rng(0))


def test_diabetes_validation_is_grouped_by_patient(data_dir):
    path = require_file(data_dir, "diabetes_130us/diabetic_data.csv.gz")
    data = load("diabetes_130us", n_val=5000, data_dir=data_dir, seed=0)
    assert data.kind == "tabular"
    train, val, test = (
        set(getattr(data, f"groups_{s}").tolist()) for s in ("train", "val", "test")
    )
    assert not train & val and not train & test and not val & test
    assert 4900 <= len(data.y_val) <= 5000
    frame = pd.read_csv(path, usecols=["patient_nbr", "readmitted"])
    for split in ("train", "val", "test"):
        rows = frame.iloc[getattr(data, f"index_{split}")]
        np.testing.assert_array_equal(rows["patient_nbr"], getattr(data, f"groups_{split}"))
        np.testing.assert_array_equal(rows["readmitted"] == "<30", getattr(data, f"y_{split}") == 1)
