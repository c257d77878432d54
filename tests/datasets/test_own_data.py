"""Bring-your-own data: arrays, .npz files, image folders and tables, all as one Dataset."""

import warnings

import numpy as np
import pandas as pd
import pytest

from automl_kit.datasets import (
    CorruptDataError,
    DatasetNotAvailableError,
    from_arrays,
    from_directory,
    from_npz,
    from_table,
    load_data,
)
from automl_kit.utils import DataWarning


def _images(n, k=3, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 6, 5, 1)).astype(dtype)
    return x, np.arange(n) % k


def test_from_arrays_uint8_images_are_scaled_with_a_warning():
    x, y = _images(90)
    with pytest.warns(DataWarning, match=r"uint8 images \(0..255\) scaled to \[0, 1\]"):
        data = from_arrays(x, y, name="toy")
    assert data.kind == "image" and data.input_shape == (6, 5, 1)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # every sample's source row survives the splits: x[index] / 255 is the sample
    for split in ("train", "val", "test"):
        index = getattr(data, f"index_{split}")
        np.testing.assert_allclose(getattr(data, f"x_{split}"), x[index] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), y[index])
    rows = np.concatenate([data.index_train, data.index_val, data.index_test])
    assert sorted(rows.tolist()) == list(range(90))  # disjoint and complete


def test_from_arrays_draws_a_fixed_stratified_test_set_and_says_so():
    x, y = _images(100, k=4)
    x = x / 255.0
    a = from_arrays(x, y, seed=1)
    b = from_arrays(x, y, seed=2)
    assert len(a.y_test) == 20 and a.class_counts("test") == [5, 5, 5, 5]
    np.testing.assert_array_equal(a.index_test, b.index_test)  # fixed whatever the seed
    assert not np.array_equal(a.index_val, b.index_val)
    assert "no test set given: drew 20 samples" in a.source


def test_from_arrays_keeps_given_splits_and_subsamples_them():
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 3)), np.arange(60) % 3
    x_val, y_val = rng.random((30, 3)), np.arange(30) % 3
    x_test, y_test = rng.random((12, 3)), np.arange(12) % 3
    data = from_arrays(
        x, y, x_test, y_test, x_val=x_val, y_val=y_val, n_train=30, n_val=9, n_test=6, seed=0
    )
    assert data.kind == "tabular"
    assert data.class_counts("train") == [10, 10, 10]  # class-balanced
    assert data.class_counts("val") == [3, 3, 3] and len(data.y_test) == 6
    np.testing.assert_allclose(data.x_val, x_val[data.index_val].astype(np.float32))
    np.testing.assert_allclose(data.x_test, x_test[data.index_test].astype(np.float32))
    assert "no test set given" not in data.source


def test_from_arrays_text_labels_map_to_sorted_class_names():
    rng = np.random.default_rng(0)
    y = np.array(["zebra", "ant", "moth"] * 20)
    data = from_arrays(rng.random((60, 2)), y)
    assert data.class_names == ("ant", "moth", "zebra")
    names = np.array(data.class_names)[data.y_train]
    np.testing.assert_array_equal(names, y[data.index_train])


def test_from_arrays_adds_a_channel_axis_to_greyscale_images():
    x = np.random.default_rng(0).random((40, 4, 4))
    assert from_arrays(x, np.arange(40) % 2).input_shape == (4, 4, 1)


def test_from_arrays_groups_never_cross_splits():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(100), 3)  # 100 patients, 3 rows each
    y = rng.integers(0, 2, 300)
    data = from_arrays(rng.random((300, 4)), y, groups=groups, seed=3)
    parts = [set(getattr(data, f"groups_{s}").tolist()) for s in ("train", "val", "test")]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    np.testing.assert_array_equal(data.groups_val, groups[data.index_val])
    assert data.summary()["grouped"] is True


@pytest.mark.parametrize(
    "y, y_val, message",
    [
        (np.arange(60) % 3 + 1, None, r"labels are 1..3 with no class 0; .*subtract 1"),
        (np.arange(60) % 3, np.array([0, 1, 57]), "class 57 appears in y_val but not in y_train"),
        (np.zeros(60, int), None, "single class"),
        (np.arange(60) % 3 * 2, None, r"classes 1, 3 of 0..4 have no samples in y_train"),
    ],
)
def test_from_arrays_refuses_bad_labels(y, y_val, message):
    rng = np.random.default_rng(0)
    kwargs = {} if y_val is None else {"x_val": rng.random((len(y_val), 2)), "y_val": y_val}
    with pytest.raises(ValueError, match=message):
        from_arrays(rng.random((60, 2)), y, **kwargs)


def test_from_arrays_shape_and_pairing_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(
        ValueError, match=r"x_test has samples of shape \(3,\) but x_train of \(2,\)"
    ):
        from_arrays(rng.random((20, 2)), np.arange(20) % 2, rng.random((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="pass x_val together with y_val"):
        from_arrays(rng.random((20, 2)), np.arange(20) % 2, x_val=rng.random((4, 2)))
    with pytest.raises(ValueError, match="y_train has 19 labels but x_train has 20"):
        from_arrays(rng.random((20, 2)), np.arange(19) % 2)
    with pytest.raises(ValueError, match="n_train=1 is smaller than the 2 classes"):
        from_arrays(rng.random((20, 2)), np.arange(20) % 2, n_train=1)


def test_from_npz_reads_optional_splits_and_class_names(tmp_path):
    x, y = _images(60)
    x_test, y_test = _images(9, seed=1)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test, class_names=["a", "b", "c"])
    with pytest.warns(DataWarning):
        data = from_npz(path, n_val=6, seed=0)
    assert data.name == "mine" and data.source.startswith(str(path))
    assert data.class_names == ("a", "b", "c") and len(data.y_val) == 6
    np.testing.assert_array_equal(data.y_test, y_test)


def test_from_npz_without_test_draws_one(tmp_path):
    path = tmp_path / "train_only.npz"
    np.savez(path, x_train=np.random.default_rng(0).random((50, 3)), y_train=np.arange(50) % 2)
    data = from_npz(path)
    assert len(data.y_test) == 10 and "no test set given" in data.source


def test_from_npz_errors_name_the_file(tmp_path):
    path = tmp_path / "half.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=[0, 1, 0, 1], x_val=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="has x_val but no y_val"):
        from_npz(path)
    np.savez(path, x=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"lacks the arrays \['x_train', 'y_train'\]"):
        from_npz(path)
    objects = tmp_path / "objects.npz"
    np.savez(objects, x_train=np.array([{"a": 1}, None], dtype=object), y_train=[0, 1])
    with pytest.raises(CorruptDataError, match="holds Python objects") as info:
        from_npz(objects)
    assert "allow_pickle" not in str(info.value)
    with pytest.raises(DatasetNotAvailableError, match="does not exist"):
        from_npz(tmp_path / "nope.npz")


def _table(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 80, n),
            "smoker": rng.random(n) > 0.5,
            "city": rng.choice(["Oslo", "Lima", None], n),
            "outcome": rng.choice(["sick", "well"], n),
        }
    )


def test_from_table_csv_encodes_text_and_maps_labels(tmp_path):
    frame = _table()
    path = tmp_path / "patients.csv"
    frame.to_csv(path, index=False)
    data = from_table(path, label="outcome", n_val=8)
    assert data.kind == "tabular" and data.name == "patients"
    assert data.class_names == ("sick", "well")
    assert data.feature_names == ("age", "smoker", "city=Lima", "city=Oslo", "city=missing")
    for split in ("train", "val", "test"):
        rows = frame.iloc[getattr(data, f"index_{split}")]
        np.testing.assert_array_equal(getattr(data, f"x_{split}")[:, 0], rows["age"])
        assert [data.class_names[c] for c in getattr(data, f"y_{split}")] == rows[
            "outcome"
        ].tolist()
    assert len(data.y_test) == 16 and len(data.y_val) == 8


def test_from_table_groups_and_numeric_labels():
    frame = _table(120)
    frame["patient"] = np.repeat(np.arange(40), 3)
    frame["grade"] = np.arange(120) % 3 + 1  # numeric labels 1..3 are class names here
    data = from_table(frame.drop(columns="outcome"), label="grade", group="patient")
    assert data.class_names == ("1", "2", "3")
    assert "patient" not in data.feature_names and "grade" not in data.feature_names
    assert not set(data.groups_train) & (set(data.groups_val) | set(data.groups_test))


@pytest.mark.parametrize(
    "change, kwargs, message",
    [
        (
            lambda f: f,
            {"label": "target"},
            r"label column 'target' is not in the DataFrame; its columns are \['age'",
        ),
        (
            lambda f: f.assign(age=f["age"].where(f.index > 2)),
            {},
            r"numeric columns \['age'\] .* missing values",
        ),
        (
            lambda f: f.assign(name=[f"p{i}" for i in range(len(f))]),
            {},
            r"text columns \{'name': 80\}",
        ),
        (
            lambda f: f.assign(outcome=f["outcome"].where(f.index != 5)),
            {},
            r"label column 'outcome' has 1 missing value\(s\) \(rows \[5\]\)",
        ),
    ],
)
def test_from_table_errors_name_the_columns(change, kwargs, message):
    with pytest.raises(ValueError, match=message):
        from_table(change(_table()), **{"label": "outcome", **kwargs})


def test_from_table_warns_about_wildly_scaled_features():
    frame = _table().assign(income=np.linspace(1e4, 1e6, 80))
    with pytest.warns(DataWarning, match="standardise"):
        from_table(frame, label="outcome")


def test_from_table_parquet(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (not a dependency)")
    path = tmp_path / "t.parquet"
    _table().to_parquet(path)
    assert from_table(path, label="outcome").num_classes == 2


def _image_folder(root, splits=("train", "test"), n=6, mode="L"):
    from PIL import Image

    rng = np.random.default_rng(0)
    channels = () if mode == "L" else (3,)
    for split in splits:
        for c in ("cat", "dog", "emu"):
            folder = root / split / c if split else root / c
            folder.mkdir(parents=True)
            for i in range(n if split != "test" else 2):
                pixels = rng.integers(0, 256, (6, 5, *channels), dtype=np.uint8)
                Image.fromarray(pixels, mode).save(folder / f"{i}.png")
    return root


def test_from_directory_train_and_test_folders(tmp_path):
    root = _image_folder(tmp_path / "pets")
    with pytest.warns(DataWarning, match="scaled to"):
        data = from_directory(root)
    assert data.kind == "image" and data.input_shape == (6, 5, 1)
    assert data.class_names == ("cat", "dog", "emu") and data.class_counts("test") == [2, 2, 2]
    assert len(data.y_train) + len(data.y_val) == 18 and "test as given" in data.source
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    from PIL import Image

    for split in ("train", "test"):
        i = 0
        path = data.files[getattr(data, f"index_{split}")[i]]
        assert f"/{split}/{data.class_names[getattr(data, f'y_{split}')[i]]}/" in path
        pixels = np.asarray(Image.open(path), np.float32)[..., None] / 255.0
        np.testing.assert_allclose(getattr(data, f"x_{split}")[i], pixels, atol=1e-6)


def test_from_directory_flat_folder_resizes_and_splits(tmp_path):
    root = _image_folder(tmp_path / "flat", splits=("",), n=10, mode="RGB")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        data = load_data(str(root), n_val=3)
        small = from_directory(root, image_size=(4, 4), color_mode="grayscale")
    assert data.input_shape == (6, 5, 3) and len(data.y_val) == 3 and len(data.y_test) == 6
    assert small.input_shape == (4, 4, 1)


def test_from_directory_errors(tmp_path):
    with pytest.raises(DatasetNotAvailableError, match="is not a folder"):
        from_directory(tmp_path / "missing")
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(ValueError, match="at least two classes"):
        from_directory(tmp_path / "one")
    root = _image_folder(tmp_path / "extra")
    (root / "test" / "yak").mkdir()
    (root / "test" / "cat" / "0.png").rename(root / "test" / "yak" / "0.png")
    with pytest.warns(DataWarning), pytest.raises(ValueError, match=r"class folders \['yak'\]"):
        from_directory(root)


def test_load_data_dispatches_on_name_and_path(tmp_path):
    assert load_data("digits", n_train=50, seed=1).name == "digits"
    np.savez(
        tmp_path / "a.npz",
        x_train=np.random.default_rng(0).random((30, 2)),
        y_train=np.arange(30) % 2,
    )
    assert load_data(str(tmp_path / "a.npz")).name == "a"
    _table().to_csv(tmp_path / "t.csv", index=False)
    assert load_data(tmp_path / "t.csv", label="outcome", n_test=4).summary()["n_test"] == 4
    _table().to_csv(tmp_path / "t.tsv.gz", index=False, sep="\t")
    data = load_data(str(tmp_path / "t.tsv.gz"), label="outcome")
    assert data.name == "t" and data.feature_names[0] == "age"


@pytest.mark.parametrize(
    "spec, kwargs, error, message",
    [
        (
            "imagenet",
            {},
            ValueError,
            "unknown data set 'imagenet'; choose one of: .*digits.*or pass the path",
        ),
        ("{tmp}/nothing.npz", {}, DatasetNotAvailableError, "nothing.npz does not exist"),
        (
            "{tmp}/t.csv",
            {},
            ValueError,
            r"is a table: say which column holds the class with label=",
        ),
        ("digits", {"label": "y"}, ValueError, "label='y' applies to tables only"),
        ("{tmp}/t.xlsx", {}, ValueError, "cannot tell what kind of data"),
    ],
)
def test_load_data_errors(tmp_path, spec, kwargs, error, message):
    _table().to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(error, match=message):
        load_data(spec.format(tmp=tmp_path), **kwargs)


def test_from_arrays_text_labels_follow_given_class_names():
    rng = np.random.default_rng(0)
    y = np.array(["low", "high", "mid"] * 10)
    data = from_arrays(rng.random((30, 2)), y, class_names=["low", "mid", "high"])
    assert data.class_names == ("low", "mid", "high")
    np.testing.assert_array_equal(np.array(data.class_names)[data.y_test], y[data.index_test])
    with pytest.raises(ValueError, match=r"labels \['mid'\] are not in class_names"):
        from_arrays(rng.random((30, 2)), y, class_names=["low", "high"])


def test_the_scale_warning_names_the_table_column_not_its_encoded_index():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "colour": ["red", "blue"] * 20,  # one-hot encoded: shifts the positions
            "big": rng.normal(size=40) * 1e5,
            "small": rng.normal(size=40),
            "label": [0, 1, 1, 0] * 10,
        }
    )
    with pytest.warns(DataWarning, match=r"\(columns big\)"):
        from_table(frame, label="label")
