"""`automl-kit tweak` end to end on digits with a tiny model: outputs, per-class accuracy, errors."""

import json

import keras
import numpy as np
import pytest

from automl_kit.cli import main
from automl_kit.datasets import load_data


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    data = load_data("digits", seed=0)
    model = keras.Sequential(
        [
            keras.Input(data.input_shape),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data.x_train, data.y_train, epochs=3, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("m") / "m.keras"
    model.save(path)
    return path


def test_tweak_writes_results_plots_and_model(model_file, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["tweak", "--model", str(model_file), "--dataset", "digits", "--target", "3"]
    args += [
        "--layers",
        "conv,hidden",
        "--n-candidates",
        "1,5,20",
        "--scales",
        "1,5,20",
        "--max-drop",
        "0.01",
        "--method",
        "join",
    ]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "class  before  after" in printed and "   3*" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["targets"] == [3] and results["n"] in (1, 5, 20)
    assert results["method"] == "join" and results["candidates"]["kept"] == "join"
    assert len(results["per_class_before"]) == 10 and len(results["validation_grid"]) == 9
    assert sum(results["count_distribution"].values()) == (6 * 6 * 4 + 16)
    for name in (
        "per_class_accuracy.png",
        "count_distribution.png",
        "tweaked.keras",
        "synapses.json",
        "tables/tables.json",
    ):
        assert (out / name).is_file(), name
    syn = json.loads((out / "synapses.json").read_text())
    assert len(syn["synapses"]) == results["synapses"]
    tweaked = keras.models.load_model(out / "tweaked.keras")
    assert tweaked.output_shape == (None, 10)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--target", "10"], "digits has classes 0..9"),
        (["--target", "1", "--layers", "nope"], "unknown layer 'nope'"),
        (["--target", "1", "--scales", "0"], "positive numbers"),
        (["--target", "1", "--scales", "inf"], "finite positive numbers"),
        (["--target", "1", "--max-drop", "5"], "fraction in [0, 1]"),
    ],
)
def test_tweak_bad_input(model_file, tmp_path, capsys, extra, fragment):
    try:
        code = main(
            [
                "tweak",
                "--model",
                str(model_file),
                "--dataset",
                "digits",
                *extra,
                "--out",
                str(tmp_path / "r"),
            ]
        )
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before the run folder was made


def test_tweak_missing_model(tmp_path, capsys):
    assert (
        main(
            [
                "tweak",
                "--model",
                str(tmp_path / "none.keras"),
                "--dataset",
                "digits",
                "--target",
                "1",
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert not np.any([p.name == "run.json" for p in tmp_path.rglob("*")])


def test_auto_keeps_the_method_that_raises_the_target_most_within_the_tolerance(
    model_file, tmp_path, capsys
):
    out = tmp_path / "auto"
    args = ["tweak", "--model", str(model_file), "--dataset", "digits", "--target", "3"]
    assert main([*args, "--layers", "hidden", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    candidates = results["candidates"]
    base = candidates["model"]["overall"]
    fitted = [
        m for m in ("calibration", "join", "calibrated_join") if "not_fitted" not in candidates[m]
    ]
    within = [m for m in fitted if candidates[m]["overall"] >= base - 0.002 - 1e-12]
    best = max(candidates[m]["target"] for m in within)
    kept = results["method"]
    # the best target validation accuracy within 0.2 points; ties go to the simplest
    assert kept == candidates["kept"] == next(m for m in within if candidates[m]["target"] == best)
    assert f"{kept}" in printed and "<- kept" in printed
    assert results["mu"] >= 1.0 and candidates["calibration"]["mu"] >= 1.0
    # the saved model is the kept one: its test accuracy is the one reported
    data = load_data("digits", seed=0)
    tweaked = keras.models.load_model(out / "tweaked.keras")
    right = tweaked.predict(data.x_test, verbose=0).argmax(1) == data.y_test
    assert float(right.mean()) == pytest.approx(results["test_accuracy_after"], abs=1e-6)


def test_a_join_that_cannot_be_fitted_leaves_the_other_methods(
    model_file, tmp_path, capsys, monkeypatch
):
    def no_synapse(self, tables, validation_data=None):
        raise ValueError("no usable synapse for some target")

    monkeypatch.setattr("automl_kit.tweak.join.SynapticJoin.fit", no_synapse)
    args = ["tweak", "--model", str(model_file), "--dataset", "digits", "--target", "3"]
    assert main([*args, "--out", str(tmp_path / "auto")]) == 0
    printed = capsys.readouterr().out
    assert printed.count("not fitted: no usable synapse") == 2
    results = json.loads((tmp_path / "auto" / "results.json").read_text())
    assert results["method"] == "calibration" and results["synapses"] == 0
    # asked for by name, the join's failure is the command's: one line, exit 2
    assert main([*args, "--method", "join", "--out", str(tmp_path / "join")]) == 2
    assert "no usable synapse" in capsys.readouterr().err
