"""``--overwrite`` never destroys a run before the new one has replaced it (issue 23).

Every command is given bad input with ``--overwrite`` over an existing finished run of its own:
it must exit 2 with one line naming the problem, and leave the old run's files as they were.
Some commands refuse before opening the folder (the model and its fit to the data are checked
first); ``ehr`` reads its tables inside the job, so it exercises the put-back path.
"""

from __future__ import annotations

import json
import zipfile

import keras
import pytest

from automl_kit.cli import main
from automl_kit.datasets import ehr_example


def _old_run(folder, command: str) -> dict[str, bytes]:
    """A finished run of ``command`` with a few files; returns them, name -> bytes."""
    folder.mkdir()
    (folder / "run.json").write_text(
        json.dumps({"command": command, "status": "finished", "created": "", "version": "0"})
    )
    (folder / "results.json").write_text('{"accuracy": 0.9}')
    (folder / "model.keras").write_bytes(b"weights")
    (folder / "tables").mkdir()
    (folder / "tables" / "C.npy").write_bytes(b"table")
    return _files(folder)


def _files(folder) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Bad and good inputs: a text file and a zip named .keras, a digits model with 5 outputs,
    one with 10 outputs, and EHR tables whose events lack a column."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "notmodel.keras").write_text("not a model")
    with zipfile.ZipFile(root / "zipnotmodel.keras", "w") as archive:
        archive.writestr("hello.txt", "not a model either")
    for outputs in (5, 10):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(4, activation="relu", name="hidden"),
                keras.layers.Dense(outputs, activation="softmax"),
            ]
        )
        model.save(root / f"out{outputs}.keras")
    tables = ehr_example()
    tables.events.drop(columns=["code_type"]).to_csv(root / "events.csv", index=False)
    tables.patients.to_csv(root / "patients.csv", index=False)
    return root


CASES = [
    ("tweak", ["--model", "{in}/notmodel.keras", "--dataset", "digits", "--target", "1"], "not a loadable Keras model"),
    ("tweak", ["--model", "{in}/zipnotmodel.keras", "--dataset", "digits", "--target", "1"], "not a loadable Keras model"),
    ("tweak", ["--model", "{in}/out10.keras", "--dataset", "digits", "--target", "12"], "has classes 0..9"),
    ("tweak", ["--model", "{in}/out5.keras", "--dataset", "digits", "--target", "1"], "has 5 outputs but the data has 10 classes"),
    ("diagnose", ["--model", "{in}/zipnotmodel.keras", "--dataset", "digits"], "not a loadable Keras model"),
    ("diagnose", ["--model", "{in}/out5.keras", "--dataset", "digits"], "has 5 outputs but the data has 10 classes"),
    ("ehr", ["--events", "{in}/events.csv", "--patients", "{in}/patients.csv", "--lookback-days", "360"], "code_type"),
]  # fmt: skip


@pytest.mark.parametrize("command, argv, fragment", CASES)
def test_bad_input_with_overwrite_keeps_the_old_run(
    command, argv, fragment, inputs, tmp_path, capsys
):
    out = tmp_path / "run"
    before = _old_run(out, command)
    argv = [a.replace("{in}", str(inputs)) for a in argv]
    assert main([command, *argv, "--out", str(out), "--overwrite", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert _files(out) == before
    assert not (tmp_path / ".run.replaced").exists()
