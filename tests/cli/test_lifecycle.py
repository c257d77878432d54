"""Every command through the same run lifecycle (issue 23): bad input with ``--overwrite`` over
a finished run (the old run intact), ``--resume`` of a finished run (nothing changes), one real
Ctrl-C (exit 130, then ``--resume`` completes) and a real SIGKILL (then ``--resume`` completes).

Every check runs before the folder is touched (:meth:`Job.load` reads the models, data and EHR
tables first), and ``RunDirectory.claim`` puts an overwritten run back if the new one fails.
The signal cases start fresh interpreters (about 20 s a command): they are marked ``processes``
and CI runs them as a step of their own (``pytest -m processes``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
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


# ---- the same lifecycle cases for every command (issue 23, "Done when") ---------------------
# command -> (a tiny run that finishes, a bad input refused with exit 2 and its message)
TINY_RUNS = {
    "evolve": (
        ["--dataset", "digits", "--n-train", "200", "--algorithm", "random_search"]
        + ["--max-evaluations", "1", "--epochs-per-eval", "1", "--final-epochs", "1"]
        + ["--rival", "none", "--space", "compact"],  # compact: small nets trace fast
        ["--dataset", "digits", "--algorithm", "random_search"],
        "searches until its budget is spent",
    ),
    "train": (
        ["--model", "vgg11", "--width", "0.125", "--dataset", "digits", "--n-train", "200"]
        + ["--epochs", "1"],
        ["--dataset", "digits", "--freezing", "freezeout", "--freeze-mode", "thesis"],
        "--freeze-mode belongs to --freezing intelligent",
    ),
    "grow": (
        ["--task", "sine", "--width", "20", "--chunks", "2", "--n-train", "128", "--epochs", "1"],
        ["--task", "sine", "--width", "20", "--chunks", "50"],
        "--chunks 50 is more than --width 20",
    ),
    "pkgcn": (
        ["--dataset", "digits", "--n-train", "100", "--n-val", "60", "--n-test", "100"]
        + ["--stage1-epochs", "1", "--stage2-epochs", "1"],
        ["--dataset", "digits", "--variant", "1", "--units-l", "8"],
        "--units-l sets the width of PK-GCN-2's Dense layer",
    ),
    "ehr": (
        ["--simulate", "300", "--generations", "2", "--population", "4", "--base", "xgb"]
        + ["--cnn-epochs", "1"],
        ["--simulate", "300", "--lookback-days", "90"],
        "--lookback-days applies to --events/--patients",
    ),
    "tweak": (
        ["--model", "{in}/out10.keras", "--dataset", "digits", "--target", "1"],
        ["--model", "{in}/out5.keras", "--dataset", "digits", "--target", "1"],
        "has 5 outputs but the data has 10 classes",
    ),
    "auto": (
        ["--dataset", "digits", "--n-train", "200", "--time-budget", "6s"]
        + ["--steps", "floor,diagnose"],
        ["--dataset", "digits", "--steps", "floor,bogus"],
        "unknown steps",
    ),
    "diagnose": (
        ["--model", "{in}/out10.keras", "--dataset", "digits"],
        ["--model", "{in}/zipnotmodel.keras", "--dataset", "digits"],
        "not a loadable Keras model",
    ),
}


def test_the_lifecycle_table_names_every_command():
    from automl_kit.cli import COMMAND_MODULES, build_parser
    from automl_kit.cli.jobs import Job

    build_parser()  # loads every command module
    registered = {job.name for job in Job.__subclasses__() if job.__module__ in COMMAND_MODULES}
    assert set(TINY_RUNS) == registered


def _finished_run(command: str, inputs, root) -> object:
    """A finished tiny run of ``command`` in ``root`` (each test builds only its own command's:
    under pytest-xdist a module fixture building all seven would run once per worker)."""
    out = root / command
    argv = [a.replace("{in}", str(inputs)) for a in TINY_RUNS[command][0]]
    assert main([command, *argv, "--out", str(out), "--quiet"]) == 0, command
    return out


@pytest.mark.parametrize("command", list(TINY_RUNS))
def test_every_command_keeps_a_finished_run_through_bad_input_and_resume(
    command, inputs, tmp_path, capsys
):
    out = _finished_run(command, inputs, tmp_path)
    before = _files(out)
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    # bad input with --overwrite over the finished run: exit 2, one line, the run intact
    _, bad, fragment = TINY_RUNS[command]
    bad = [a.replace("{in}", str(inputs)) for a in bad]
    capsys.readouterr()
    assert main([command, *bad, "--out", str(out), "--overwrite", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert _files(out) == before
    # --resume of the finished run: says so, changes nothing
    assert main([command, "--resume", str(out)]) == 0
    assert "is finished; nothing to do" in capsys.readouterr().out
    assert _files(out) == before


def _claimed(out) -> bool:
    """Whether the job has claimed ``out`` (its ``run.json`` says running): it is past its
    checks and inside its work, where a stop lands at the next safe point."""
    try:
        return json.loads((out / "run.json").read_text())["status"] == "running"
    except (OSError, ValueError, KeyError):
        return False  # not written yet, or caught mid-write


def _signal_once_claimed(argv: list[str], out, signum: int) -> tuple[int, str]:
    """``automl-kit *argv`` in a fresh interpreter, sent ``signum`` as soon as it has claimed
    ``out``; its exit code and stderr."""
    from tests.search.test_cli import cli_process

    process = cli_process(*argv, "--out", str(out), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _claimed(out) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, f"{argv[0]} ended before it could be signalled"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stderr


@pytest.mark.processes
@pytest.mark.parametrize("command", list(TINY_RUNS))
def test_every_command_stops_on_ctrl_c_and_resumes_after_a_kill(command, inputs, tmp_path, capsys):
    argv = [command, *(a.replace("{in}", str(inputs)) for a in TINY_RUNS[command][0])]
    out = tmp_path / "run"
    # one Ctrl-C: the job stops at its next safe point, exit 130, the run marked stopped
    code, stderr = _signal_once_claimed(argv, out, signal.SIGINT)
    assert code == 130, stderr
    assert f"stopped; resume with: automl-kit {command} --resume {out}" in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    assert not (out / "results.json").exists()
    assert main([command, "--resume", str(out), "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert (out / "results.json").is_file()
    # SIGKILL: no handler runs, the run stays "running" and unlocked; --resume completes it
    killed = tmp_path / "killed"
    code, _ = _signal_once_claimed(argv, killed, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (killed / "results.json").exists()
    capsys.readouterr()
    assert main([command, "--resume", str(killed), "--quiet"]) == 0, capsys.readouterr().err
    assert json.loads((killed / "run.json").read_text())["status"] == "finished"
    assert (killed / "results.json").is_file()
