"""``automl-kit evolve`` as a user runs it: every search, bad input, resume, Ctrl-C, locks, noise.

Subprocess tests use real signals and real files; they keep the searches tiny (digits,
200 training images, one epoch per candidate).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from automl_kit.cli import main
from automl_kit.registries import SEARCHERS
from automl_kit.utils.rundir import RunDirectory

TINY = [
    "evolve",
    "--space",
    "compact",
    "--n-train",
    "200",
    "--n-val",
    "100",
    "--epochs-per-eval",
    "1",
    "--final-epochs",
    "1",
    "--rival",
    "none",  # the textbook rival is tested once, below
]
# TensorFlow's C++ log lines (issue 10, "Noise") and Python's signs of a crash
NOISE = re.compile(
    r"^[IWEF]\d{4} |absl::InitializeLog|cuInit|oneDNN|cpu_feature_guard|node_def_util"
    r"|Traceback|Exception ignored",
    re.MULTILINE,
)


def cli_process(*args: str, **kwargs) -> subprocess.Popen:
    """``automl-kit ...`` in a fresh interpreter, as a user's shell would start it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "AUTOML_KIT_Q"))}
    env["PYTHONUNBUFFERED"] = "1"
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": env}
    return subprocess.Popen(
        [sys.executable, "-m", "automl_kit.cli", *args], **{**options, **kwargs}
    )


def evaluation_keys(run: Path) -> list[str]:
    lines = (run / "evaluations.jsonl").read_text().splitlines()
    return [json.loads(line)["key"] for line in lines if line.strip()]


def test_help_imports_no_tensorflow():
    code = (
        "import sys\n"
        "from automl_kit.cli import main\n"
        "for argv in (['--help'], ['evolve', '--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit_info:\n"
        "        assert exit_info.code == 0, exit_info.code\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--algorithm" in done.stdout and "--resume DIR" in done.stdout
    assert not NOISE.search(done.stderr), done.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--final-epochs", "0"], "--final-epochs: must be at least 1, got 0"),
        (["--time-budget", "nan"], "cannot read duration 'nan'"),
        (["--time-budget", "-5m"], "cannot read duration '-5m'"),
        (["--time-budget", "abc"], "cannot read duration 'abc'"),
        (["--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["--population", "1"], "population must be at least 2"),
        (["--stop-threshold", "nan"], "--stop-threshold: must be a finite number >= 0"),
        (["--early-rejection", "2"], "early_rejection is a fraction of the median in (0, 1)"),
        (["--workers", "0"], "--workers: must be at least 1, got 0"),
        (["--algorithm", "nope"], "unknown search algorithm 'nope'; choose one of: classical_ga"),
        (["--algorithm", "random_search"], "add --time-budget (e.g. 10m) or --max-evaluations"),
        (
            ["--algorithm", "random_search", "--max-evaluations", "2", "--population", "4"],
            "--algorithm random_search does not take --population",
        ),
        (
            ["--algorithm", "optuna_tpe", "--max-evaluations", "2", "--generations", "2"],
            "--generations",
        ),
        (["--extend"], "--extend continues a finished run: use it with --resume DIR"),
        (["--optimizer", "adamx"], "argument --optimizer: invalid choice: 'adamx'"),
        (["--activations", "relu,swsh"], "unknown activation swsh; give a comma-separated list"),
        (["--lr", "0"], "--lr: must be a finite number above 0"),
        (["--ray-address", "ray://head:10001"], "--ray-address needs --executor ray"),
        (["--label", "y"], "pass --data PATH too"),
        (["--data", "{tmp}/missing.npz"], "no such file or folder"),
        (["--out", "{tmp}/a-file"], "is a file, not a folder"),
        (["--out", "{tmp}/a-file/run"], "{tmp}/a-file"),
        (["--dataset", "digits", "--data", "{tmp}/a-file"], "not both"),
        (["--rival", "svm"], "argument --rival: invalid choice: 'svm'"),
    ],
)
def test_bad_arguments_stop_before_any_work(tmp_path, capsys, args, fragment):
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "run")]
    try:
        code = main([*TINY, *args])
    except SystemExit as exit_info:  # argparse's own checks
        code = exit_info.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert fragment.replace("{tmp}", str(tmp_path)) in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # checked before the run directory was made


# the default search in the default run; the rest (peers included) with -m slow, their Python
# API being tested in test_rivals.py, test_peers.py and tests/test_conformance.py
@pytest.mark.parametrize(
    "algorithm",
    [
        name if name == "vlga" else pytest.param(name, marks=pytest.mark.slow)
        for name in SEARCHERS.names()
    ],
)
def test_every_registered_search_runs_from_the_command_line(tmp_path, capsys, algorithm):
    out = tmp_path / "run"
    args = ["--algorithm", algorithm, "--max-evaluations", "2", "--n-train", "300", "--quiet"]
    # the default for the default algorithm: the textbook CNN beside the final fit
    args += ["--rival", "auto" if algorithm == "vlga" else "none"]
    assert main([*TINY, *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[-1].startswith(f"results: {out}/results.json")
    results = json.loads((out / "results.json").read_text())
    assert results["algorithm"] == algorithm
    assert len(evaluation_keys(out)) == results["evaluations"] <= 2
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["final_fit_epochs"] == 1
    assert (out / "final_model.keras").is_file()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    if algorithm != "vlga":
        return
    # the no-search rival, trained like the final fit and compared on validation
    rival = results["rival"]
    assert rival["rival"] == "the textbook CNN (no search)" and rival["winner"] in (
        rival["method"],
        rival["rival"],
    )
    assert rival["method_score"] == results["final_val_accuracy"]
    assert 0.0 <= rival["rival_test"] <= 1.0 and (out / "rival_model.keras").is_file()
    assert rival["verdict"] in printed


def test_a_run_of_another_command_is_refused_unless_overwritten(tmp_path, capsys):
    train = RunDirectory.open(tmp_path / "run", "train")
    train.write_config({"model": "vgg11"})
    train.write_results({"test_accuracy": 0.9})
    train.close()
    before = {p.name: p.read_bytes() for p in train.root.iterdir() if p.is_file()}
    args = [*TINY, "--population", "2", "--generations", "1", "--max-phases", "1", "--quiet"]
    assert main([*args, "--out", str(train.root)]) == 2
    assert "already holds a 'train' run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in train.root.iterdir() if p.is_file()} == before
    assert main([*args, "--out", str(train.root), "--overwrite"]) == 0
    assert json.loads((train.root / "run.json").read_text())["command"] == "evolve"
    assert json.loads((train.root / "results.json").read_text())["algorithm"] == "vlga"


@pytest.mark.processes
def test_a_normal_run_prints_no_tensorflow_log(tmp_path):
    out = tmp_path / "run"
    args = ["--population", "2", "--generations", "1", "--max-phases", "1"]
    # process workers import TensorFlow afresh: they must be quiet too
    process = cli_process(
        *TINY, *args, "--executor", "process", "--workers", "1", "--out", str(out)
    )
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert re.search(r"^vlga \[1\] .*best so far", stdout, re.MULTILINE), stdout
    assert stdout.splitlines()[-1].startswith(f"results: {out}/results.json")
    assert not NOISE.search(stdout + stderr), stdout + stderr


@pytest.mark.processes
def test_ctrl_c_stops_with_one_line_and_resume_completes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--population", "3", "--generations", "2", "--max-phases", "2", "--out", str(out)]
    process = cli_process(*TINY, *args)
    try:
        for line in process.stdout:  # the first progress line: the search is under way
            if line.startswith("vlga ["):
                break
        # a second process on the same folder: refused, naming the holder (a live job is
        # "in use", not a run to --resume)
        assert main(["evolve", "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"in use by another process (pid {process.pid})" in err and "--resume" not in err
        assert main(["evolve", "--resume", str(out), "--quiet"]) == 2
        assert f"pid {process.pid}" in capsys.readouterr().err
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    stopped = [line for line in stderr.splitlines() if line.startswith("stopped")]
    assert stopped == [f"stopped; resume with: automl-kit evolve --resume {out}"]
    assert not NOISE.search(stderr), stderr
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    logged = evaluation_keys(out)
    assert logged

    # flags that define the search are refused; safe ones are applied
    assert main(["evolve", "--resume", str(out), "--population", "5"]) == 2
    assert "cannot change --population (saved: 3, given: 5)" in capsys.readouterr().err
    assert main(["evolve", "--resume", str(out), "--final-epochs", "2", "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["final_fit_epochs"] == 2  # saved: 1
    keys = evaluation_keys(out)
    assert keys[: len(logged)] == logged and len(keys) == len(set(keys))  # nothing retrained
    assert results["evaluations"] == len(keys)

    # a finished run: resuming says so and changes nothing
    capsys.readouterr()
    before = (out / "results.json").read_bytes(), (out / "final_model.keras").read_bytes()
    assert main(["evolve", "--resume", str(out)]) == 0
    assert "is finished; nothing to do" in capsys.readouterr().out
    assert ((out / "results.json").read_bytes(), (out / "final_model.keras").read_bytes()) == before
    assert main(["evolve", "--resume", str(out), "--extend"]) == 2
    assert "--extend needs a new budget" in capsys.readouterr().err


@pytest.mark.processes
def test_a_killed_search_resumes_without_retraining(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--population", "4", "--generations", "2", "--max-phases", "1", "--out", str(out)]
    process = cli_process(*TINY, *args)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            log = out / "evaluations.jsonl"
            if log.exists() and len(log.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    logged = evaluation_keys(out)
    assert len(logged) >= 3
    assert main(["evolve", "--resume", str(out), "--quiet"]) == 0
    keys = evaluation_keys(out)
    assert keys[: len(logged)] == logged and len(keys) == len(set(keys))
    results = json.loads((out / "results.json").read_text())
    assert results["evaluations"] == len(keys) and results["best_fitness"] > 0


@pytest.mark.parametrize(
    "algorithm",
    [
        "vlga",  # the default: issue 23 found --extend never reached it
        pytest.param("random_search", marks=pytest.mark.slow),
    ],
)
def test_extend_continues_a_finished_search_and_keeps_the_first_result(algorithm, tmp_path, capsys):
    out = tmp_path / "run"
    args = [*TINY, "--algorithm", algorithm, "--max-evaluations", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    first = json.loads((out / "results.json").read_text())
    assert first["evaluations"] == 1
    assert main(["evolve", "--resume", str(out), "--extend", "--max-evaluations", "2"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["evaluations"] == 2 and len(set(evaluation_keys(out))) == 2
    kept = sorted(out.glob("result-*/results.json"))
    assert [json.loads(p.read_text())["evaluations"] for p in kept] == [1]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow  # test_extend_continues_a_finished_search[vlga] covers --extend by default
def test_extend_is_a_new_budget_and_an_empty_extend_changes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    args = [*TINY, "--algorithm", "random_search", "--max-evaluations", "2", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in ("results.json", "final_model.keras")}
    # --max-evaluations counts the run's evaluations: 2 allows nothing new, and nothing changes
    resume = ["evolve", "--resume", str(out), "--extend", "--quiet"]
    assert main([*resume, "--max-evaluations", "2"]) == 0
    assert "trained nothing new" in capsys.readouterr().out
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not list(out.glob("result-*")) and len(evaluation_keys(out)) == 2
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    # a time-only extension lifts the earlier evaluation cap, and the new budget is saved
    assert main([*resume, "--time-budget", "3s"]) == 0
    saved = json.loads((out / "cli_args.json").read_text())
    assert saved["max_evaluations"] is None and saved["time_budget"] == "3s"
    assert len(evaluation_keys(out)) > 2 and (out / "result-1" / "results.json").is_file()


@pytest.mark.slow  # two evolve runs; the default run resumes evolve in tests/cli/test_lifecycle.py
def test_a_budget_given_with_resume_is_saved_for_later_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = [*TINY, "--algorithm", "random_search", "--max-evaluations", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    # an interrupted extension resumed with a changed budget: the change is kept for later
    (out / "run.json").write_text(json.dumps({"command": "evolve", "status": "stopped"}))
    assert main(["evolve", "--resume", str(out), "--max-evaluations", "2", "--quiet"]) == 0
    assert json.loads((out / "cli_args.json").read_text())["max_evaluations"] == 2
    assert len(evaluation_keys(out)) == 2


def test_search_without_validation_data_names_it(tmp_path):
    from automl_kit.search import CNNSpace, RandomSearch

    searcher = RandomSearch(CNNSpace.compact(), epochs_per_eval=1, seed=0, quiet=True)
    x, y = np.zeros((20, 8, 8, 1), np.float32), np.arange(20) % 2
    with pytest.raises(ValueError, match="validation"):
        searcher.search(x, y, max_evaluations=1, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _table(path: Path, rows: int = 60) -> Path:
    rng = np.random.default_rng(0)
    lines = ["a,b,label"] + [
        f"{rng.normal():.3f},{rng.normal():.3f},{'xy'[i % 2]}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _npz(path: Path, y_train, y_test) -> Path:
    rng = np.random.default_rng(0)
    x = lambda n: rng.random((n, 8, 8, 1), dtype=np.float32)  # noqa: E731
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    np.savez(path, x_train=x(len(y_train)), y_train=y_train, x_test=x(len(y_test)), y_test=y_test)
    return path


@pytest.mark.parametrize(
    "case, fragment",
    [
        (["evolve", "--dataset", "digits", "--n-train", "5"], "n_train"),
        (["evolve", "--dataset", "nosuch"], "nosuch"),
        (["evolve", "--gpus", "x"], "argument --gpus: expected comma-separated GPU ids"),
        (["evolve", "--data", "{table}", "--label", "label"], "pick --space dense"),
        (
            [
                "evolve",
                "--data",
                "{table}",
                "--label",
                "label",
                "--space",
                "dense",
                "--rival",
                "textbook",
            ],
            "--rival none for tables",
        ),
        (["evolve", "--data", "{test_only}"], "test"),
        (["evolve", "--data", "{one_based}"], "label"),
        (["train", "--data", "{table}", "--label", "label"], "evolve --space dense"),
    ],
)
def test_a_command_refused_after_parsing_leaves_no_folder(tmp_path, capsys, case, fragment):
    """Data and data/space checks run before the run folder exists; the fixed command then
    runs on the same --out (trial: a stub run.json blocked it)."""
    files = {
        "table": _table(tmp_path / "t.csv"),
        "test_only": _npz(tmp_path / "d.npz", [0, 1] * 20, [0, 1, 2] * 4),
        "one_based": _npz(tmp_path / "e.npz", list(range(1, 11)) * 6, list(range(1, 11))),
    }
    out = tmp_path / "run"
    args = [part.format(**files) for part in case]
    # a CNN space on a table, unless the case names its space
    space = ["--space", "compact"] if case[0] == "evolve" and "--space" not in case else []
    try:
        code = main([*args, *space, "--out", str(out), "--quiet"])
    except SystemExit as exit:  # argparse's own one-line refusal
        code = exit.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not out.exists()


@pytest.mark.slow  # a full evolve run after a refusal; refusals are tested in the default run
def test_a_fresh_run_on_the_folder_of_a_refused_one_succeeds(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--dataset", "nosuch", "--out", str(out), "--quiet"]) == 2
    assert not out.exists()
    args = [*TINY, "--algorithm", "random_search", "--max-evaluations", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_help_says_what_a_budget_given_with_extend_means():
    from automl_kit.cli import build_parser

    parser = build_parser()
    evolve = parser._subparsers._group_actions[0].choices["evolve"]
    text = " ".join(evolve.format_help().split())
    assert "time-only --extend lifts an earlier --max-evaluations cap" in text
    assert "earlier ones included" in text


def test_optimizer_rate_and_activations_reach_every_candidate_and_the_final_fit(tmp_path, capsys):
    import keras

    out = tmp_path / "run"
    args = ["--optimizer", "Nadam", "--lr", "0.004", "--activations", "elu,selu"]
    assert main([*TINY, *args, "--max-evaluations", "1", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["optimizer"] == "nadam" and config["recipe"]["learning_rate"] == 0.004
    assert config["space"]["activations"] == ["elu", "selu"]
    model = keras.saving.load_model(out / "final_model.keras")
    assert type(model.optimizer).__name__ == "Nadam"
    assert {
        layer.get_config()["activation"]
        for layer in model.layers
        if isinstance(layer, keras.layers.Activation)
    } <= {"elu", "selu"}


def test_a_second_evolve_on_a_live_run_is_refused_before_tensorflow_loads(tmp_path):
    # issue 23: it took ~10 s (the searcher, and TensorFlow, were built first)
    from automl_kit.utils import RunDirectory

    out = tmp_path / "run"
    holder = RunDirectory.open(out, "evolve")  # a live job, as another process would hold it
    code = (
        "import sys\n"
        "from automl_kit.cli import main\n"
        f"code = main([*{TINY!r}, '--max-evaluations', '1', '--out', {str(out)!r}])\n"
        "print(code, 'tensorflow' in sys.modules)\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    finally:
        holder.close()
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
    assert f"in use by another process (pid {os.getpid()})" in proc.stderr
