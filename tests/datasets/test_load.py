import numpy as np
import pytest

from automl_kit.datasets import DatasetNotAvailableError, list_datasets, load
from tests.conftest import require_file


def test_digits_shapes_scaling_and_disjoint_splits():
    data = load("digits", n_train=500, n_val=200, seed=3)
    assert data.x_train.shape == (500, 8, 8, 1)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_val.shape == (200, 8, 8, 1)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    # no image is shared between train, validation and test
    rows = {
        split: {x.tobytes() for x in getattr(data, f"x_{split}")}
        for split in ("train", "val", "test")
    }
    assert not rows["train"] & rows["val"]
    assert not rows["train"] & rows["test"] and not rows["val"] & rows["test"]


def test_train_subset_is_class_balanced_and_val_is_stratified():
    data = load("digits", n_train=300, n_val=100, seed=0)
    assert data.class_counts("train") == [30] * 10
    counts = np.array(data.class_counts("val"))
    assert counts.sum() == 100 and counts.min() >= 9 and counts.max() <= 11


def test_same_seed_same_subset_other_seed_other_subset():
    a = load("digits", n_train=200, seed=5)
    b = load("digits", n_train=200, seed=5)
    c = load("digits", n_train=200, seed=6)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    # the test set is fixed whatever the seed, so runs are scored on the same images
    np.testing.assert_array_equal(a.x_test, c.x_test)


def test_n_test_is_a_stratified_subset():
    full = load("digits")
    part = load("digits", n_test=100)
    assert len(part.y_test) == 100
    assert {x.tobytes() for x in part.x_test} <= {x.tobytes() for x in full.x_test}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_train": 100_000}, "n_train=100000 exceeds"),
        ({"n_val": 0}, "n_val must be a positive integer"),
        ({"n_test": 10_000}, "n_test=10000 exceeds"),
    ],
)
def test_bad_sizes_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load("digits", **kwargs)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown data set 'imagenet'; choose one of: .*digits"):
        load("imagenet")


def test_missing_file_without_download_says_what_to_place_where(tmp_path):
    with pytest.raises(DatasetNotAvailableError, match=r"Place mnist\.npz .* in " + str(tmp_path)):
        load("mnist", data_dir=tmp_path, download=False)


def test_failed_keras_download_says_what_to_place_where(tmp_path, monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-cache"))
    with pytest.raises(
        DatasetNotAvailableError, match="download failed: network unreachable.*AUTOML_KIT_DATA"
    ):
        load("mnist", data_dir=tmp_path, download=True)


def test_npz_missing_arrays_is_reported(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load("mnist", data_dir=tmp_path)


def test_shared_mnist_file(data_dir):
    require_file(data_dir, "mnist.npz")
    data = load("mnist", n_train=1000, n_val=500, n_test=2000, data_dir=data_dir, seed=0)
    assert data.x_train.shape == (1000, 28, 28, 1)
    assert data.class_counts("train") == [100] * 10
    assert len(data.y_test) == 2000
    assert data.source.endswith("mnist.npz")


def test_shared_cifar10_is_rgb(data_dir):
    require_file(data_dir, "cifar10.npz")
    data = load("cifar10", n_val=400, data_dir=data_dir)
    assert data.input_shape == (32, 32, 3)
    assert len(data.y_train) + len(data.y_val) == 4000
    assert data.class_names[0] == "airplane"


def test_shared_diabetes_table(data_dir):
    require_file(data_dir, "diabetes_130us/diabetic_data.csv.gz")
    data = load("diabetes_130us", n_train=1000, n_val=500, data_dir=data_dir)
    assert data.x_train.ndim == 2 and data.input_shape[0] == len(data.feature_names)
    assert data.class_counts("train") == [500, 500]
    assert 0.0 <= data.x_test.min() and data.x_test.max() <= 1.0
    assert "time_in_hospital" in data.feature_names and "diag_1=circulatory" in data.feature_names
    # readmission within 30 days is the rare class (about 11%)
    assert 0.08 < np.mean(data.y_test) < 0.14


def test_list_datasets_reports_digits_offline(tmp_path):
    rows = {row["name"]: row for row in list_datasets(data_dir=tmp_path)}
    assert rows["digits"]["offline"] and rows["digits"]["input_shape"] == [8, 8, 1]
    assert rows["digits"]["n_pool"] + rows["digits"]["n_test"] == 1797
    assert set(rows) >= {"mnist", "fashion_mnist", "cifar10", "diabetes_130us"}
