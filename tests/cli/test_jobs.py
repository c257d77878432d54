"""The CLI job scaffold (``automl_kit.cli.jobs``) with a tiny job that needs no TensorFlow."""

from __future__ import annotations

import errno
import json
import os
import warnings

import pytest

from automl_kit.cli.jobs import Job, Parser, explicit_options, run_status
from automl_kit.utils.interrupt import request_stop, stop_requested
from automl_kit.utils.logs import filtered_stderr, is_tensorflow_noise
from automl_kit.utils.rundir import DiskFullError, RunDirectory, RunNote


class Count(Job):
    """Counts to --upto; --step may change on resume; can fail, or stop once on request."""

    name = "count"
    uses_data = False
    safe_on_resume = frozenset({"step"})
    never_saved = frozenset({"address"})
    outputs = ("results.json", "numbers.json")

    def add_arguments(self, parser):
        parser.add_argument("--upto", type=int, default=3)
        parser.add_argument("--step", type=int, default=1)
        parser.add_argument(
            "--fail", choices=("value", "disk", "full", "stop", "early", "note"), default=None
        )
        parser.add_argument("--address", default=None)

    def validate(self, args):
        if args.upto < 1:
            raise ValueError("--upto must be at least 1; pass e.g. --upto 3.")

    def run(self, args, run, data):
        if args.fail == "early":  # refused before any work: nothing but bookkeeping written
            raise ValueError("the job cannot start; pass --upto 3.")
        if args.fail == "note":
            warnings.warn("dropped a torn last record", RunNote, stacklevel=1)
        numbers = list(range(0, args.upto, args.step))
        (run.root / "numbers.json").write_text(json.dumps(numbers))
        if args.fail == "value":
            raise ValueError("the numbers do not add up; pass --upto 3.")
        if args.fail == "disk":
            raise OSError(errno.ENOSPC, "No space left on device", str(run.root / "numbers.json"))
        if args.fail == "full":
            raise DiskFullError(f"could not write {run.root / 'numbers.json'}: no space left. Free")
        if args.fail == "stop" and not (run.root / "stopped-once").exists():
            (run.root / "stopped-once").write_text("")
            request_stop()
            from automl_kit.utils.interrupt import raise_if_stop_requested

            raise_if_stop_requested("after counting")
        return {"numbers": numbers, "seed": args.seed, "address": args.address}


def cli(argv: list[str]) -> int:
    parser = Parser(prog="automl-kit")
    Count().register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.explicit = explicit_options(parser, argv)
    return args.handler(args)


def test_a_job_writes_its_run_and_says_where(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["count", "--upto", "4", "--seed", "2", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results == {"numbers": [0, 1, 2, 3], "seed": 2, "address": None}
    saved = json.loads((out / "config.json").read_text())
    assert saved["upto"] == 4 and "out" not in saved and "verbose" not in saved
    assert run_status(out) == "finished"
    assert capsys.readouterr().out.splitlines()[-1] == f"results: {out}/results.json, numbers.json"


def test_explicit_options_count_flags_given_with_their_default_value():
    parser = Parser(prog="automl-kit")
    Count().register(parser.add_subparsers(dest="command", required=True))
    argv = ["count", "--upto", "3", "--quiet"]
    assert explicit_options(parser, argv) == {"upto", "verbose"}
    assert parser.parse_args(["count"]).upto == 3  # defaults are back afterwards


def test_resuming_a_finished_run_changes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["count", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert cli(["count", "--resume", str(out)]) == 0
    assert "is finished; nothing to do" in capsys.readouterr().out
    assert cli(["count", "--resume", str(out), "--upto", "9"]) == 2  # refused, not ignored
    assert "cannot change --upto" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def stopped_run(tmp_path, capsys) -> os.PathLike:
    out = tmp_path / "run"
    assert cli(["count", "--upto", "5", "--out", str(out), "--fail", "stop"]) == 130
    capsys.readouterr()
    return out


def test_ctrl_c_marks_the_run_stopped_and_prints_one_resume_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["count", "--out", str(out), "--fail", "stop"]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"stopped; resume with: automl-kit count --resume {out}"
    ]
    assert run_status(out) == "stopped" and not (out / "results.json").exists()
    assert not stop_requested()  # the flag does not leak into the next job


def test_resume_applies_safe_options_and_refuses_the_others(tmp_path, capsys):
    out = stopped_run(tmp_path, capsys)
    assert cli(["count", "--resume", str(out), "--upto", "9"]) == 2
    err = capsys.readouterr().err
    assert "cannot change --upto (saved: 5, given: 9)" in err and "--step" in err
    assert run_status(out) == "stopped"
    # the saved --upto 5 and --fail stop hold; a --fail given again must match the saved one
    assert cli(["count", "--resume", str(out), "--fail", "value"]) == 2
    assert "cannot change --fail" in capsys.readouterr().err
    # saved flags given again with the same value are fine; --step is safe to change
    assert cli(["count", "--resume", str(out), "--upto", "5", "--step", "2"]) == 0
    assert json.loads((out / "results.json").read_text())["numbers"] == [0, 2, 4]
    assert run_status(out) == "finished"


def test_a_network_address_is_never_read_back_from_a_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["count", "--out", str(out), "--fail", "stop", "--address", "ray://head:10001"]
    assert cli(args) == 130
    assert "address" not in json.loads((out / "config.json").read_text())
    assert cli(["count", "--resume", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["address"] is None


def test_resume_names_a_directory_of_another_command(tmp_path, capsys):
    other = RunDirectory.open(tmp_path / "train-run", "train")
    other.write_results({"test_accuracy": 0.5})
    other.close()
    before = {p.name: p.read_bytes() for p in other.root.iterdir() if p.is_file()}
    assert cli(["count", "--resume", str(other.root)]) == 2
    assert "holds an `automl-kit train` run" in capsys.readouterr().err
    # --out on another command's run is refused before anything is written
    assert cli(["count", "--out", str(other.root)]) == 2
    assert "already holds a 'train' run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in other.root.iterdir() if p.is_file()} == before
    assert cli(["count", "--out", str(other.root), "--overwrite"]) == 0
    assert json.loads((other.root / "run.json").read_text())["command"] == "count"


def test_a_locked_run_directory_is_refused_naming_the_holder(tmp_path, capsys):
    out = stopped_run(tmp_path, capsys)
    holder = RunDirectory.open(out, "count", resume=True)  # as another process would
    try:
        assert cli(["count", "--resume", str(out), "--step", "2"]) == 2
        assert f"pid {os.getpid()}" in capsys.readouterr().err
    finally:
        holder.close()
    assert json.loads((out / "numbers.json").read_text()) == [0, 1, 2, 3, 4]  # untouched


@pytest.mark.parametrize(
    "argv, exit_code, fragment",
    [
        (["--upto", "0"], 2, "--upto must be at least 1"),
        (["--fail", "value"], 2, "the numbers do not add up"),
        (["--fail", "disk"], 2, "no space left on device); free space and resume with"),
        (["--fail", "full"], 2, "no space left; free space and resume with: automl-kit count"),
        (["--extend"], 2, "unrecognized arguments"),  # Count cannot extend
        (["--seed", "-1"], 2, "expected a whole number >= 0"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, argv, exit_code, fragment):
    try:
        code = cli(["count", "--out", str(tmp_path / "run"), *argv])
    except SystemExit as exit_info:  # argparse's own checks
        code = exit_info.code
    assert code == exit_code
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_resume_and_out_must_agree(tmp_path, capsys):
    out = stopped_run(tmp_path, capsys)
    assert cli(["count", "--resume", str(out), "--out", str(tmp_path / "elsewhere")]) == 2
    assert "drop --out" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()


def test_tensorflow_notices_are_recognised_and_errors_are_not():
    for line in (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795681569.307760    5390 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1795681647.663131    6665 node_def_util.cc:682] NodeDef mentions attribute",
        "E0000 00:00:1795681637.781218    6899 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.",
    ):
        assert is_tensorflow_noise(line), line
    for line in ("Traceback (most recent call last):", "ValueError: bad", "evolve [1] 00:04"):
        assert not is_tensorflow_noise(line), line


def test_filtered_stderr_drops_only_tensorflow_notices(capfd):
    with filtered_stderr():
        os.write(2, b"I0000 00:00:1.5    12 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"a real problem\n")
    assert capfd.readouterr().err == "a real problem\n"


def test_a_job_that_fails_before_any_work_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["count", "--out", str(out), "--fail", "early"]) == 2
    assert capsys.readouterr().err.strip() == (
        "automl-kit count: error: the job cannot start; pass --upto 3."
    )
    assert not out.exists()  # no stub: the corrected command runs on the same --out
    assert cli(["count", "--out", str(out)]) == 0


@pytest.mark.parametrize(
    "content", [b"garbage\n", b"\x00\xff", b"{}", b'{"command": "count", "status": "bogus"}']
)
def test_a_corrupt_run_json_is_one_line_before_anything_runs(tmp_path, capsys, content):
    out = tmp_path / "run"
    assert cli(["count", "--out", str(out), "--fail", "stop"]) == 130
    (out / "run.json").write_bytes(content)
    before = sorted(p.name for p in out.iterdir())
    capsys.readouterr()
    assert cli(["count", "--resume", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{out / 'run.json'} is corrupt" in err
    assert '"status": "stopped"' in err  # the way out
    assert (
        sorted(p.name for p in out.iterdir()) == before
        and (out / "run.json").read_bytes() == content
    )


def test_another_commands_folder_suggests_only_what_works(tmp_path, capsys):
    out = tmp_path / "run"
    RunDirectory.open(out, "evolve").close()
    assert cli(["count", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds an 'evolve' run" in err and "--overwrite" in err
    assert "--resume" not in err and "=True" not in err


def test_notes_are_one_line_also_when_quiet(tmp_path, capsys):
    assert cli(["count", "--out", str(tmp_path / "run"), "--fail", "note", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "note: dropped a torn last record" in captured.out.splitlines()
    assert "RunNote" not in captured.err and "warnings.warn" not in captured.err
