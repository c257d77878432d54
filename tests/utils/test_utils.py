import json
import math

import numpy as np
import pytest

from automl_kit.utils import (
    Progress,
    RunDirectory,
    read_json,
    seed_everything,
    write_csv,
    write_json,
)


def test_seed_everything_repeats_keras_initialisation():
    import keras

    def weights():
        seed_everything(7)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        return layer.get_weights()[0]

    np.testing.assert_array_equal(weights(), weights())


def test_seed_everything_rejects_bad_seed():
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


def test_json_handles_numpy_and_nonfinite(tmp_path):
    path = write_json(
        tmp_path / "a.json",
        {"x": np.float32(0.5), "n": np.int64(3), "arr": np.arange(2), "bad": math.nan},
    )
    assert read_json(path) == {"x": 0.5, "n": 3, "arr": [0, 1], "bad": None}
    assert not (tmp_path / "a.json.tmp").exists()


def test_csv_union_of_columns(tmp_path):
    path = write_csv(tmp_path / "t.csv", [{"a": 1}, {"a": 2, "b": [1, 2]}])
    assert path.read_text().splitlines() == ["a,b", "1,", '2,"[1, 2]"']


def test_run_directory_layout(tmp_path):
    run = RunDirectory.create("evolve", root=tmp_path)
    assert run.root.parent == tmp_path and run.root.name.endswith("-evolve")
    run.write_config({"population": 4})
    run.write_results({"accuracy": 0.9})
    assert json.loads((run.root / "config.json").read_text()) == {"population": 4}
    assert run.path("models/best.keras").parent.is_dir()
    second = RunDirectory.create("evolve", root=tmp_path)
    assert second.root != run.root


def test_progress_lines_and_quiet(capsys):
    progress = Progress(total=2, label="gen")
    progress.step("best=0.5")
    out = capsys.readouterr().out
    assert out.startswith("gen [1/2]") and "ETA" in out and "best=0.5" in out
    Progress(total=2, verbose=0).step("x")
    assert capsys.readouterr().out == ""


def test_a_comparison_names_the_winner_and_round_trips():
    from automl_kit.utils import Comparison

    ahead = Comparison("freezing", 0.90, "no freezing", 0.88, hint="--freezing none")
    assert ahead.winner == "freezing" and ahead.difference_points == pytest.approx(2.0)
    assert "use it" not in ahead.verdict()  # the hint is for a winning rival only
    behind = Comparison("freezing", 0.85, "no freezing", 0.88, hint="--freezing none")
    assert behind.winner == "no freezing" and behind.verdict().endswith("use it: --freezing none")
    tie = Comparison("a", 0.5, "b", 0.5)
    assert tie.winner == "a" and "tied" in tie.verdict()
    again = Comparison.from_summary(json.loads(json.dumps(behind.summary())))
    assert again == behind


def test_a_comparison_reads_errors_and_margins():
    from automl_kit.utils import Comparison

    error = Comparison("grown", 0.02, "static", 0.03, metric="MSE", higher_is_better=False)
    assert error.winner == "grown" and "lower is better" in error.verdict()
    # with a margin the rival is the default: the method must be ahead by more than it
    close = Comparison("boosted", 0.152, "base", 0.150, margin=0.004, hint="weight 1.0")
    assert close.winner == "base"
    assert close.verdict().startswith("base kept: boosted was ahead on validation by only 0.0020")
    clear = Comparison("boosted", 0.160, "base", 0.150, margin=0.004)
    assert clear.winner == "boosted" and "beat base" in clear.verdict()
    worse = Comparison("boosted", 0.140, "base", 0.150, margin=0.004)
    assert worse.winner == "base" and "base beat boosted" in worse.verdict()
