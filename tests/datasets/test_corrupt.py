"""Damaged data files name the file and the fix; the listing marks them and goes on."""

import json
import shutil

import numpy as np
import pytest

from automl_kit.datasets import CorruptDataError, DatasetNotAvailableError, list_datasets, load
from automl_kit.datasets._cli import run
from tests.conftest import require_file


def _valid_npz(path):
    rng = np.random.default_rng(0)
    np.savez_compressed(
        path,
        x_train=rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        y_train=np.arange(200) % 10,
        x_test=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        y_test=np.arange(50) % 10,
    )
    return path.read_bytes()


def _damage(raw: bytes, how: str) -> bytes:
    middle = len(raw) // 2
    return {
        "truncated": raw[:middle],
        "text": b"this is not an archive\n" * 10,
        "zeroed": b"\0" * len(raw),
        "zeroed_middle": raw[:200] + b"\0" * (middle - 200) + raw[middle:],
        "empty": b"",
        "npy": b"\x93NUMPY\x01\x00" + raw[8:100],
    }[how]


@pytest.mark.parametrize(
    "how, reason",
    [
        ("truncated", "truncated or damaged"),
        ("text", "not an .npz"),
        ("zeroed", "not an .npz"),
        ("zeroed_middle", "truncated or damaged"),
        ("empty", "empty"),
        ("npy", "single .npy array"),
    ],
)
def test_corrupt_npz_names_the_file_and_the_fix(tmp_path, how, reason):
    raw = _valid_npz(tmp_path / "good.npz")
    (tmp_path / "mnist.npz").write_bytes(_damage(raw, how))
    with pytest.raises(CorruptDataError) as info:
        load("mnist", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "mnist.npz") in message and "is corrupt" in message
    assert reason in message and "Replace it with a fresh copy of mnist.npz" in message
    assert "pickle" not in message
    # a ValueError too, so callers that catch bad input catch it
    assert isinstance(info.value, ValueError)


def test_corrupt_copy_of_the_shared_mnist_file(tmp_path, data_dir):
    source = require_file(data_dir, "mnist.npz")
    shutil.copy(source, tmp_path / "mnist.npz")
    raw = (tmp_path / "mnist.npz").read_bytes()
    (tmp_path / "mnist.npz").write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(CorruptDataError, match="mnist.npz is corrupt"):
        load("mnist", data_dir=tmp_path, download=False)


def test_corrupt_diabetes_file_is_named(tmp_path):
    folder = tmp_path / "diabetes_130us"
    folder.mkdir()
    (folder / "diabetic_data.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage" * 3)
    with pytest.raises(
        CorruptDataError, match=r"diabetic_data.csv.gz is corrupt.*fresh gzipped copy"
    ):
        load("diabetes_130us", data_dir=tmp_path)


def test_listing_marks_the_broken_file_and_lists_the_rest(tmp_path, capsys):
    raw = _valid_npz(tmp_path / "fashion_mnist.npz")
    (tmp_path / "mnist.npz").write_bytes(_damage(raw, "truncated"))
    rows = {row["name"]: row for row in list_datasets(data_dir=tmp_path)}
    assert rows["mnist"]["status"] == "broken" and "is corrupt" in rows["mnist"]["error"]
    assert rows["fashion_mnist"]["status"] == "available"
    assert rows["fashion_mnist"]["input_shape"] == [28, 28, 1]
    assert rows["digits"]["n_pool"] + rows["digits"]["n_test"] == 1797

    class Args:
        data_dir, data, label, no_details, json = str(tmp_path), None, None, False, False

    assert run(Args()) == 0
    out = capsys.readouterr().out
    mnist_line = next(line for line in out.splitlines() if line.startswith("mnist "))
    assert "BROKEN" in mnist_line and "error: " in out and "fashion_mnist" in out


def test_missing_data_folder_is_reported_once(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "not-there"
    monkeypatch.setenv("AUTOML_KIT_DATA", str(missing))

    class Args:
        data_dir, data, label, no_details, json = None, None, None, True, True

    assert run(Args()) == 0
    captured = capsys.readouterr()
    assert captured.err.count("does not exist") == 1 and str(missing) in captured.err
    rows = {row["name"]: row for row in json.loads(captured.out)}
    assert rows["digits"]["offline"] and "error" not in rows["mnist"]
    with pytest.raises(
        DatasetNotAvailableError, match=f"the data folder {missing} .* does not exist"
    ):
        load("mnist", download=False)
    with pytest.raises(DatasetNotAvailableError, match=r"^The data folder .* does not exist\. "):
        load("diabetes_130us")


def test_datasets_command_describes_own_data(tmp_path, capsys):
    _valid_npz(tmp_path / "mine.npz")

    class Args:
        data_dir, data, label, no_details, json = (
            None,
            str(tmp_path / "mine.npz"),
            None,
            False,
            True,
        )

    with pytest.warns(UserWarning, match="scaled to"):
        assert run(Args()) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "image" and summary["n_test"] == 50
    Args.data = str(tmp_path / "absent.npz")
    assert run(Args()) == 2
    assert "absent.npz does not exist" in capsys.readouterr().err
