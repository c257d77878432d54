import json

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from automl_kit.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"datasets", "evolve", "train"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: automl-kit " + name in capsys.readouterr().out


def test_datasets_command_says_where_mnist_would_come_from(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # an empty keras cache
    args = ["datasets", "--json", "--no-details", "--data-dir", str(tmp_path)]
    assert main(args) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["digits"]["offline"] is True
    assert rows["mnist"]["offline"] is False
    assert "downloads via keras.datasets" in rows["mnist"]["location"]
    # once keras.datasets has cached the file, mnist is offline from there
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"")
    assert main(args) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["mnist"]["offline"] is True
    assert rows["mnist"]["location"] == f"keras cache {cache / 'mnist.npz'}"


def test_datasets_command_with_shared_files(capsys, data_dir):
    assert main(["datasets", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "28x28x1" in out


@pytest.mark.slow  # search/test_cli.py runs every search end to end by default
def test_evolve_end_to_end_writes_its_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "evolve",
        "--space",
        "compact",
        "--n-train",
        "200",
        "--n-val",
        "100",
        "--population",
        "3",
        "--generations",
        "1",
        "--max-phases",
        "2",
        "--budget-phases",
        "2",
        "--epochs-per-eval",
        "1",
        "--final-epochs",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and str(out) in printed.splitlines()[-1]
    results = json.loads((out / "results.json").read_text())
    assert results["test_accuracy"] > 0.2 and results["evaluations"] >= 3
    assert json.loads((out / "config.json").read_text())["budget_phases"] == 2
    assert json.loads((out / "cli_args.json").read_text())["population"] == 3
    for name in (
        "history.csv",
        "best_chromosome.json",
        "best_architecture.txt",
        "fitness.png",
        "final_model.keras",
    ):
        assert (out / name).is_file(), name


def test_evolve_rejects_a_space_that_does_not_fit_the_data(tmp_path, capsys):
    assert main(["evolve", "--space", "dense", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "pick --space stages, compact or thesis" in capsys.readouterr().err


# ---- --data: the user's own files, end to end through the command line -------------------
def digits_subset(classes=(0, 1, 2)):
    """Real digits images (8x8, 0..16) of a few classes, as uint8 in 0..255."""
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    images = (x[keep].reshape(-1, 8, 8) * 255 / 16).round().astype(np.uint8)
    return images, y[keep].astype(np.int64)


def evolve_tiny(path, out, *extra):
    return [
        "evolve",
        "--data",
        str(path),
        "--population",
        "2",
        "--generations",
        "1",
        "--max-phases",
        "1",
        "--max-evaluations",
        "1",  # the data path is under test here, not the search
        "--epochs-per-eval",
        "1",
        "--final-epochs",
        "1",
        "--rival",
        "none",  # tested in tests/search/test_cli.py
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def test_evolve_and_train_take_an_npz_file(tmp_path, capsys):
    images, labels = digits_subset()
    path = tmp_path / "mine.npz"
    np.savez(
        path,
        x_train=images[:400, ..., None],
        y_train=labels[:400],
        x_test=images[400:, ..., None],
        y_test=labels[400:],
    )
    out = tmp_path / "evolve"
    assert main(evolve_tiny(path, out, "--space", "compact")) == 0
    printed = capsys.readouterr().out
    assert "scaled" in printed  # uint8 pixels: the run says what it did
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["num_classes"] == 3
    assert results["dataset"]["n_test"] == len(labels) - 400
    assert results["dataset"]["n_train"] + results["dataset"]["n_val"] == 400
    assert json.loads((out / "cli_args.json").read_text())["data"] == str(path.resolve())

    out = tmp_path / "train"
    args = ["train", "--data", str(path), "--model", "vgg11", "--width", "0.125"]
    assert main([*args, "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["num_classes"] == 3 and (out / "model.keras").is_file()


def test_evolve_takes_a_folder_of_class_folders(tmp_path, capsys):
    images, labels = digits_subset()
    names = {0: "zero", 1: "one", 2: "two"}
    for i, (image, label) in enumerate(zip(images[:240], labels[:240])):
        folder = tmp_path / "images" / names[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    out = tmp_path / "run"
    assert main(evolve_tiny(tmp_path / "images", out, "--space", "compact")) == 0
    results = json.loads((out / "results.json").read_text())
    summary = results["dataset"]
    assert summary["class_names"] == ["one", "two", "zero"]  # folder names, sorted
    assert summary["input_shape"] == [8, 8, 1]
    assert summary["n_train"] + summary["n_val"] + summary["n_test"] == 240


def test_evolve_takes_a_csv_table_with_a_label_column(tmp_path, capsys):
    images, labels = digits_subset()
    rows = images.reshape(len(images), -1)[:300] / 255.0
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    lines = [header] + [
        ",".join(f"{v:.3f}" for v in row) + f",d{label}" for row, label in zip(rows, labels[:300])
    ]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(evolve_tiny(path, tmp_path / "a", "--space", "dense")) == 2
    assert "label" in capsys.readouterr().err  # which column is the class?
    assert main(evolve_tiny(path, tmp_path / "b", "--space", "compact", "--label", "digit")) == 2
    assert "pick --space dense" in capsys.readouterr().err  # a table needs the dense space
    out = tmp_path / "run"
    assert main(evolve_tiny(path, out, "--space", "dense", "--label", "digit")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["class_names"] == ["d0", "d1", "d2"]
    assert results["dataset"]["input_shape"] == [64]
    assert results["test_accuracy"] > 1 / 3  # better than chance on three classes
