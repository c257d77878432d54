"""`automl-kit pkgcn` end to end on a tiny digits run: accuracy table, graph picture, bad input."""

import argparse
import csv
import json

import numpy as np
import pytest

from automl_kit.cli import main

TINY = ["pkgcn", "--dataset", "digits", "--n-train", "100", "--n-val", "60", "--n-test", "100"]


def test_pkgcn_writes_accuracy_table_graph_and_the_kept_model(tmp_path, capsys):
    import keras

    out = tmp_path / "run"
    args = [*TINY, "--variant", "2", "--stage1-epochs", "1", "--stage2-epochs", "1", "--soft"]
    assert main([*args, "--controls", "dense_control", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "original_cnn" in printed and "gain (points)" in printed
    assert "stage 1 epoch 1/1" in printed and "stage 2 pkgcn2 epoch 1/1" in printed  # progress
    with open(out / "accuracy.csv") as handle:
        rows = list(csv.DictReader(handle))
    # label smoothing, the simpler rival, always trains beside PK-GCN
    heads = ["none", "pkgcn2", "label_smoothing", "dense_control"]
    assert [r["head"] for r in rows] == heads
    assert rows[0]["method"] == "original_cnn" and float(rows[0]["gain_points"]) == 0.0
    results = json.loads((out / "results.json").read_text())
    # the dense control matches the variant run (PK-GCN-2), not PK-GCN-1
    assert results["settings"]["control_match"] == "pkgcn2"
    assert results["settings"]["optimizer"] == "recipe" and results["settings"]["smoothing"] == 0.1
    params = {head: values["parameters"] for head, values in results["heads"].items()}
    assert abs(params["dense_control"] - params["pkgcn2"]) / params["pkgcn2"] < 0.02
    assert results["heads"]["pkgcn2"]["test_accuracy"] == pytest.approx(
        float(rows[1]["test_accuracy"]), abs=1e-6
    )
    # model.keras is the kept head (label smoothing unless beaten by a standard error)
    from automl_kit.knowledge.experiments import choose_head

    val = {head: values["val_accuracy"] for head, values in results["heads"].items()}
    winner = results["winner"]
    assert winner == choose_head(val, 60, "label_smoothing")
    assert keras.models.load_model(out / "model.keras").count_params() == params[winner]
    assert "kept, saved as model.keras" in printed
    gain = 100 * (val["pkgcn2"] - val["label_smoothing"])
    assert results["verdict"].startswith(
        f"pkgcn2 beat label smoothing on validation by {gain:.2f}"
        if gain > 0
        else f"pkgcn2 did not beat label smoothing on validation ({gain:+.2f} points)"
    )
    assert results["dataset"]["n_val"] == 60
    graph = json.loads((out / "graph.json").read_text())
    assert len(graph["graph"]) == 10 and graph["edges"] == results["graph_edges"] > 0  # soft counts
    assert json.loads((out / "two_stage.json").read_text())["settings"] == results["settings"]
    assert (out / "graph.png").stat().st_size > 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_the_commands_controls_are_the_librarys_heads():
    from automl_kit.knowledge import _cli, experiments

    assert set(_cli.CONTROLS) < set(experiments.HEADS)
    assert set(experiments._THESIS_OPTIMIZERS) | {"recipe"} == set(experiments.OPTIMIZERS)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--controls", "dropout"], "unknown control 'dropout'"),
        (["--variant", "3"], "invalid choice"),
        (["--stage1-epochs", "0"], "must be at least 1"),
    ],
)
def test_pkgcn_rejects_bad_options(tmp_path, capsys, args, fragment):
    out = tmp_path / "bad"
    with pytest.raises(SystemExit) as exit_:
        main([*TINY, *args, "--out", str(out), "--quiet"])
    assert exit_.value.code == 2 and fragment in capsys.readouterr().err
    assert not out.exists()


def test_validation_set_defaults_to_the_training_size():
    from automl_kit.knowledge._cli import Pkgcn

    args = argparse.Namespace(n_train=300, n_val=None, resume=None, units_l=None, variant=1)
    Pkgcn().validate(args)
    assert args.n_val == 300


def test_pkgcn_refuses_tables_before_writing_anything(tmp_path, capsys):
    table = tmp_path / "table.npz"
    rng = np.random.default_rng(0)
    np.savez(table, x_train=rng.random((60, 5)), y_train=np.arange(60) % 3)
    out = tmp_path / "bad"
    assert main(["pkgcn", "--data", str(table), "--out", str(out), "--quiet"]) == 2
    assert "take images" in capsys.readouterr().err
    assert not out.exists()


def test_pkgcn_refuses_units_l_with_variant_1(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main([*TINY, "--units-l", "8", "--out", str(out), "--quiet"]) == 2
    assert "PK-GCN-1 has none" in capsys.readouterr().err
    assert not out.exists()


def test_pkgcn_help_states_its_own_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["pkgcn", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "as large as --n-train, else 10% of the pool" in text
    assert "default: []" not in text and "initialisation and search" not in text
