"""The run-directory rules: ownership, lock, status, relative paths, whole-line logs, checkpoints."""

import json
import os
import random
import re
import subprocess
import sys

import pytest

from automl_kit.utils.rundir import (
    CorruptRunError,
    DiskFullError,
    RunDirectory,
    RunDirectoryError,
    RunLockedError,
    RunNote,
)


def test_open_records_ownership_and_status(tmp_path):
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        info = json.loads((tmp_path / "run" / "run.json").read_text())
        assert info["command"] == "evolve" and info["status"] == "running"
        assert info["created"] and "version" in info
        run.mark_stopped()
        assert run.status == "stopped"
        run.mark_finished()
        assert RunDirectory(tmp_path / "run").status == "finished"


def test_open_without_path_makes_a_timestamped_folder(tmp_path):
    with (
        RunDirectory.open(None, "train", root=tmp_path) as a,
        RunDirectory.open(None, "train", root=tmp_path) as b,
    ):
        assert a.root.parent == tmp_path and a.root.name.endswith("-train")
        assert a.root != b.root


def test_a_folder_holding_another_run_is_refused_before_anything_is_written(tmp_path):
    with RunDirectory.open(tmp_path / "run", "train") as run:
        run.write_config({"epochs": 3})
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(RunDirectoryError, match="already holds a 'train' run.*overwrite") as err:
        RunDirectory.open(tmp_path / "run", "evolve")
    assert "resume" not in str(err.value)  # another command's run cannot be resumed by evolve
    with pytest.raises(RunDirectoryError, match="already holds a 'train' run.*resume.*overwrite"):
        RunDirectory.open(tmp_path / "run", "train")
    with pytest.raises(RunDirectoryError, match="holds a 'train' run, not an 'evolve' run"):
        RunDirectory.open(tmp_path / "run", "evolve", resume=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before


def test_a_legacy_run_without_run_json_is_recognised(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "evaluations.jsonl").write_text('{"key": "a"}\n')
    with pytest.raises(RunDirectoryError, match="already holds"):
        RunDirectory.open(tmp_path / "old", "evolve")
    with RunDirectory.open(tmp_path / "old", "evolve", resume=True) as run:
        assert run.command == "evolve" and run.read_jsonl("evaluations.jsonl") == [{"key": "a"}]


def test_resume_keeps_the_status_and_overwrite_empties_the_folder(tmp_path):
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        run.append_jsonl("evaluations.jsonl", {"key": "a"})
        run.mark_finished()
    with RunDirectory.open(tmp_path / "run", "evolve", resume=True) as run:
        assert run.status == "finished"
        assert run.read_jsonl("evaluations.jsonl") == [{"key": "a"}]
    with RunDirectory.open(tmp_path / "run", "train", overwrite=True) as run:
        assert run.command == "train" and run.status == "running"
        assert not (tmp_path / "run" / "evaluations.jsonl").exists()


def test_overwrite_sets_the_old_run_aside_until_the_new_one_finishes(tmp_path):
    folder = tmp_path / "run"
    with RunDirectory.open(folder, "evolve") as run:
        run.append_jsonl("evaluations.jsonl", {"key": "a"})
        run.mark_finished()
    # a new run that fails before finishing puts the old one back, as it was
    with RunDirectory.open(folder, "train", overwrite=True) as run:
        run.write_json("partial.json", {})
        assert (run.replaced / "evaluations.jsonl").is_file()
        assert run.restore_replaced()
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "evaluations.jsonl", "run.json"]
    assert RunDirectory(folder).command == "evolve" and not run.replaced.exists()
    # one killed before finishing leaves the old run beside; the next overwrite keeps it there
    run = RunDirectory.open(folder, "train", overwrite=True)
    run.write_json("partial.json", {})
    run.close()
    with pytest.warns(RunNote, match="was cut off"):
        run = RunDirectory.open(folder, "train", overwrite=True)
    assert not (folder / "partial.json").exists()
    assert (run.replaced / "evaluations.jsonl").is_file()
    # finishing is what deletes it
    run.mark_finished()
    run.close()
    assert not run.replaced.exists() and RunDirectory(folder).command == "train"


def test_resume_needs_an_earlier_run(tmp_path):
    with pytest.raises(RunDirectoryError, match="holds no earlier run"):
        RunDirectory.open(tmp_path / "nothing", "evolve", resume=True)
    assert not (tmp_path / "nothing").exists()
    with pytest.raises(RunDirectoryError, match="not both"):
        RunDirectory.open(tmp_path / "x", "evolve", resume=True, overwrite=True)


def test_a_path_naming_a_file_or_an_unwritable_place_is_refused(tmp_path):
    (tmp_path / "file.txt").write_text("data")
    with pytest.raises(RunDirectoryError, match="is a file"):
        RunDirectory.open(tmp_path / "file.txt", "evolve")
    with pytest.raises(RunDirectoryError, match="is a file"):
        RunDirectory.open(tmp_path / "file.txt" / "run", "evolve")
    assert (tmp_path / "file.txt").read_text() == "data"
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere: the permission check cannot be exercised")
    locked = tmp_path / "readonly"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(RunDirectoryError, match="permission denied"):
            RunDirectory.open(locked / "run", "evolve")
    finally:
        locked.chmod(0o700)


def test_the_lock_refuses_a_second_holder_and_names_the_pid(tmp_path):
    run = RunDirectory.open(tmp_path / "run", "evolve")
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        RunDirectory.open(
            tmp_path / "run", "evolve", resume=True
        )  # a second descriptor, same process
    code = (
        "from automl_kit.utils.rundir import RunDirectory, RunLockedError\n"
        f"try:\n    RunDirectory.open({str(tmp_path / 'run')!r}, 'evolve', resume=True)\n"
        "except RunLockedError as e:\n    print('LOCKED', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("LOCKED") and f"pid {os.getpid()}" in out.stdout
    run.close()
    with RunDirectory.open(tmp_path / "run", "evolve", resume=True) as again:
        assert again.locked


def test_paths_are_stored_relative_and_resolved_after_a_move(tmp_path):
    with RunDirectory.open(tmp_path / "a", "evolve") as run:
        model = run.path("models/m.keras")
        model.write_text("weights")
        stored = run.relative(model)
        assert stored == "models/m.keras"
        assert run.relative("models/x.keras") == "models/x.keras"
        legacy = str(model)  # an absolute path written by an older version
    os.rename(tmp_path / "a", tmp_path / "b")
    moved = RunDirectory(tmp_path / "b")
    assert moved.resolve(stored).read_text() == "weights"
    assert moved.resolve(legacy) == tmp_path / "b" / "models" / "m.keras"


def test_jsonl_appends_whole_lines_and_drops_a_torn_tail(tmp_path):
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        for i in range(3):
            run.append_jsonl("log.jsonl", {"i": i, "text": "x" * 50})
        path = tmp_path / "run" / "log.jsonl"
        data = path.read_bytes()
        path.write_bytes(data[:-30])  # a crash in the middle of the last record
        with pytest.warns(RuntimeWarning, match="torn last record"):
            records = run.read_jsonl("log.jsonl")
        assert records == [{"i": 0, "text": "x" * 50}, {"i": 1, "text": "x" * 50}]
        assert path.read_bytes().endswith(b"\n")  # truncated to the last whole line
        path.write_bytes(path.read_bytes()[:-5])  # torn again: the next append must not glue on
        with pytest.warns(RuntimeWarning):
            run.append_jsonl("log.jsonl", {"i": 9})
        assert [r["i"] for r in run.read_jsonl("log.jsonl")] == [0, 9]
        assert run.read_jsonl("missing.jsonl") == []


def test_checkpoint_round_trips_state_and_generator(tmp_path):
    rng = random.Random(3)
    rng.random()
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        run.write_checkpoint({"generation": 2, "population": [[1, "relu"]]}, rng)
        state, rng_state = run.read_checkpoint()
        assert state == {"generation": 2, "population": [[1, "relu"]]}
        again = random.Random()
        again.setstate(rng_state)
        assert again.random() == rng.random()
        run.write_checkpoint({"n": 1})
        assert run.read_checkpoint() == ({"n": 1}, None)
        assert not (tmp_path / "run" / "checkpoint.json.tmp").exists()


@pytest.mark.parametrize(
    "content",
    [b'{"state": {"generation": 2}, "rng": [3, [1, 2', b"\x00\xff\xfe\x89binary", b"{}"],
    ids=["truncated", "binary", "empty-object"],
)
def test_a_corrupt_checkpoint_names_the_file_and_the_fix(tmp_path, content):
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        (tmp_path / "run" / "checkpoint.json").write_bytes(content)
        with pytest.raises(CorruptRunError) as err:
            run.read_checkpoint()
    message = str(err.value)
    assert "checkpoint.json is corrupt" in message
    assert "delete" in message and "resume" in message and "evaluation log" in message


def test_a_full_disk_gives_one_clear_line(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        (tmp_path / "run" / "log.jsonl").symlink_to("/dev/full")
        with pytest.raises(
            DiskFullError, match=r"could not write .*log.jsonl: no space left.*resume"
        ):
            run.append_jsonl("log.jsonl", {"i": 1})
        (tmp_path / "run" / "checkpoint.json.tmp").symlink_to("/dev/full")
        with pytest.raises(DiskFullError, match="could not write .*checkpoint.json"):
            run.write_checkpoint({"n": 1})
        assert isinstance(DiskFullError("x"), RunDirectoryError)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"garbage\n", "is corrupt (Expecting value)"),
        (b"\xff\xfe\x00binary", "is corrupt (not text)"),
        (b"{}", "no command recorded"),
        (b'{"command": "evolve", "status": "bogus"}', "status 'bogus' is none of"),
    ],
)
def test_a_corrupt_run_json_names_the_file_and_the_fix(tmp_path, content, fragment):
    path = tmp_path / "run"
    path.mkdir()
    (path / "run.json").write_bytes(content)
    for resume in (True, False):
        with pytest.raises(CorruptRunError, match=re.escape(fragment)) as err:
            RunDirectory.open(path, "evolve", resume=resume)
        assert str(path / "run.json") in str(err.value)
        assert '{"command": "<command>", "status": "stopped"}' in str(err.value)
    assert (path / "run.json").read_bytes() == content  # nothing written
    with pytest.raises(CorruptRunError):
        _ = RunDirectory(path).status
    # --overwrite is the way out that needs no repair
    with RunDirectory.open(path, "evolve", overwrite=True) as run:
        assert run.status == "running"


def test_a_running_folder_whose_lock_is_held_says_in_use(tmp_path):
    with RunDirectory.open(tmp_path / "run", "evolve"):
        with pytest.raises(
            RunLockedError, match=f"in use by another process \\(pid {os.getpid()}\\)"
        ):
            RunDirectory.open(tmp_path / "run", "evolve")
    # lock released: the folder is an ordinary (unfinished) run again
    with pytest.raises(RunDirectoryError, match="already holds an 'evolve' run \\(running\\)"):
        RunDirectory.open(tmp_path / "run", "evolve")


def test_cli_wording_names_only_the_flags_that_work(tmp_path):
    RunDirectory.open(tmp_path / "run", "evolve").close()
    with pytest.raises(RunDirectoryError) as err:
        RunDirectory.open(tmp_path / "run", "evolve", cli=True)
    text = str(err.value)
    assert "an 'evolve' run" in text and "pass --resume to continue it, --overwrite" in text
    assert "=True" not in text
    with pytest.raises(RunDirectoryError) as err:  # train cannot resume an evolve run
        RunDirectory.open(tmp_path / "run", "train", cli=True)
    text = str(err.value)
    assert "--resume" not in text and "choose another folder or pass --overwrite" in text


def test_a_torn_line_is_a_run_note(tmp_path):
    with RunDirectory.open(tmp_path / "run", "evolve") as run:
        run.append_jsonl("log.jsonl", {"a": 1})
        with open(run.root / "log.jsonl", "ab") as fh:
            fh.write(b'{"a": 2')
        with pytest.warns(RunNote, match="dropped a torn last record"):
            assert run.read_jsonl("log.jsonl") == [{"a": 1}]


# ---- claim: the lifecycle every job uses ---------------------------------------------------
def _finished_run(folder):
    with RunDirectory.claim(folder, "evolve") as run:
        run.write_json("results.json", {"accuracy": 0.9})
    return run


def test_claim_finishes_a_run_and_releases_it(tmp_path):
    run = _finished_run(tmp_path / "run")
    assert (run.outcome, run.status, run.locked) == ("finished", "finished", False)


def test_claim_marks_a_stopped_run_and_puts_back_one_that_did_nothing(tmp_path):
    from automl_kit.utils.interrupt import Interrupted

    with pytest.raises(Interrupted):
        with RunDirectory.claim(tmp_path / "run", "evolve") as run:
            run.write_json("log.json", [])
            raise Interrupted("stop")
    assert (run.outcome, run.status) == ("stopped", "stopped")
    # Ctrl-C during an overwrite that wrote nothing yet: the old run is back, unchanged
    old = _finished_run(tmp_path / "old")
    with pytest.raises(KeyboardInterrupt):
        with RunDirectory.claim(old.root, "evolve", overwrite=True) as run:
            raise KeyboardInterrupt
    assert run.outcome == "restored" and (old.root / "results.json").is_file()
    assert old.status == "finished" and not run.replaced.exists()


def test_claim_cleans_up_after_a_failure(tmp_path):
    # a fresh folder that holds nothing of the job's: removed, so the corrected call can use it
    with pytest.raises(ValueError, match="bad input"):
        with RunDirectory.claim(tmp_path / "fresh", "evolve") as run:
            raise ValueError("bad input")
    assert run.outcome == "removed" and not (tmp_path / "fresh").exists()
    # a failed overwrite puts the old run back even after writing
    old = _finished_run(tmp_path / "old")
    with pytest.raises(ValueError):
        with RunDirectory.claim(old.root, "evolve", overwrite=True) as run:
            run.write_json("partial.json", {})
            raise ValueError("bad input")
    assert run.outcome == "restored" and not (old.root / "partial.json").exists()
    # a run with work is kept, marked stopped, to be resumed
    with pytest.raises(ValueError):
        with RunDirectory.claim(tmp_path / "work", "evolve") as run:
            run.write_json("log.json", [])
            raise ValueError("later")
    assert (run.outcome, run.status) == ("stopped", "stopped")


def test_claim_names_a_full_disk_and_leaves_a_callers_run_alone(tmp_path):
    import errno

    with pytest.raises(DiskFullError, match="no space left.*free some space, then resume"):
        with RunDirectory.claim(tmp_path / "run", "evolve") as run:
            run.write_json("log.json", [])
            raise OSError(errno.ENOSPC, "No space left on device")
    with RunDirectory.open(tmp_path / "mine", "evolve") as mine:
        with pytest.raises(ValueError):
            with RunDirectory.claim(mine, "evolve") as run:
                raise ValueError("the caller decides")
        assert run is mine and mine.status == "running" and mine.locked


def test_a_run_killed_after_its_arguments_and_before_run_json_can_be_resumed(tmp_path):
    # first_files are written before run.json; a folder holding only them is a run to resume
    for name in ("config.json", "cli_args.json"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / name).write_text("{}")
        assert RunDirectory.check(folder, "evolve", resume=True)["command"] == "unknown"
        with pytest.raises(RunDirectoryError, match="already holds"):
            RunDirectory.check(folder, "evolve")
    with RunDirectory.claim(tmp_path / "run", "grow", first_files={"args.json": {"a": 1}}) as run:
        assert json.loads(run.path("args.json").read_text()) == {"a": 1}
    assert run.status == "finished"
    # a failed start holding only its first files is removed, as one holding nothing
    with pytest.raises(ValueError):
        with RunDirectory.claim(tmp_path / "bad", "grow", first_files={"args.json": {}}):
            raise ValueError("bad data")
    assert not (tmp_path / "bad").exists()
