"""`automl-kit grow` end to end on a tiny sine run: outputs, schedule, bad input."""

import csv
import json

import keras
import numpy as np
import pytest

from automl_kit.cli import main

TINY = ["grow", "--task", "sine", "--width", "20", "--chunks", "2", "--n-train", "256"]


def test_grow_sine_writes_schedule_plot_model_and_results(tmp_path, capsys):
    out = tmp_path / "run"
    args = [*TINY, "--epochs", "4", "--patience", "1", "--interval", "1", "--out", str(out)]
    assert main([*args, "--optimizer", "rmsprop", "--quiet"]) == 0
    assert "final-10 loss" in capsys.readouterr().out
    assert type(keras.saving.load_model(out / "model.keras").optimizer).__name__ == "RMSprop"
    results = json.loads((out / "results.json").read_text())
    assert results["method"] == "adaptive" and results["final10_mean"] > 0
    with open(out / "capacity_schedule.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {
        "step": "0",
        "event": "start",
        "layer": "hidden_0",
        "active_units": "10",
        "frozen_units": "0",
    }
    grown = [r for r in rows if r["event"] == "grow" and r["layer"] == "hidden_0"]
    assert [(r["active_units"], r["frozen_units"]) for r in grown] == [("20", "10")]
    assert results["growth_steps"] == [int(grown[0]["step"])]
    for name in ("capacity_schedule.json", "capacity.png", "model.keras", "rival_model.keras"):
        assert (out / name).is_file(), name
    # the default rival: the static large net, same data and epochs, on a validation draw
    rival = results["rival"]
    assert rival["rival"] == "static_large" and rival["metric"] == "validation MSE"
    assert rival["higher_is_better"] is False and rival["method_score"] == results["validation_mse"]
    better = min(rival["method_score"], rival["rival_score"])
    assert rival["winner"] == ("adaptive" if rival["method_score"] == better else "static_large")
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    # every epoch was checkpointed; resuming the finished run changes nothing
    assert json.loads((out / "checkpoint.json").read_text())["state"]["epoch"] == 4
    assert main(["grow", "--resume", str(out), "--quiet"]) == 0
    assert json.loads((out / "results.json").read_text()) == results


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--method", "standard"], "--method 'standard' is not a sine method"),
        (["--rival", "standard"], "--rival 'standard' is not a sine method"),
        (["--chunks", "30"], "--chunks 30 is more than --width 20"),
        (["--patience", "0"], "--patience: must be at least 1, got 0"),
        (["--task", "cifar100"], "invalid choice: 'cifar100'"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        # issue 23: silently ignored for the sine task
        (["--every", "5"], "--every shapes the cifar10 ResNet only"),
        (["--widths", "8,16"], "--widths shapes the cifar10 ResNet only"),
        (["--normalize"], "--normalize shapes the cifar10 ResNet only"),
        (
            ["--task", "cifar10", "--method", "gradmax", "--normalize"],
            "--normalize does not work with the gradmax start",
        ),
    ],
)
def test_grow_rejects_bad_arguments_before_any_work(tmp_path, capsys, args, fragment):
    try:
        code = main([*TINY, *args, "--out", str(tmp_path / "run")])
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_grow_cifar10_tiny_resnet_writes_results_with_cost_curve(tmp_path, capsys):
    import os
    from pathlib import Path

    from automl_kit.datasets import DATA_ENV

    if not (Path(os.environ.get(DATA_ENV, "/nonexistent")) / "cifar10.npz").is_file():
        pytest.skip(f"cifar10.npz not in ${DATA_ENV}")
    out = tmp_path / "run"
    args = ["grow", "--task", "cifar10", "--widths", "4,8", "--chunks", "2", "--epochs", "2"]
    args += ["--n-train", "40", "--n-test", "20", "--patience", "1", "--interval", "1"]
    assert main([*args, "--normalize", "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "cifar10" and 0 <= results["test_accuracy"] <= 1
    assert [row["epoch"] for row in results["curve"]] == [1, 2]
    assert results["curve"][1]["flops"] > results["curve"][0]["flops"] > 0
    assert (out / "capacity_schedule.csv").is_file() and isinstance(results["growth_steps"], list)
    shortcut = keras.saving.load_model(out / "model.keras").get_layer("block1_shortcut")
    assert shortcut.active >= 1 and shortcut.normalize


def test_grow_cifar10_rejects_bad_widths(tmp_path, capsys):
    code = main(["grow", "--task", "cifar10", "--widths", "4,x", "--out", str(tmp_path / "run")])
    assert code == 2 and "--widths '4,x'" in capsys.readouterr().err
    code = main(["grow", "--task", "cifar10", "--widths", "2,8", "--chunks", "4"])
    assert code == 2 and "narrowest width 2" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # ~15 s: GradMax starts on every layer of a ResNet, twice
def test_run_cifar_gradmax_grows_a_resnet_on_a_schedule():
    import numpy as np

    from automl_kit.capacity.experiments import run_cifar
    from automl_kit.datasets import from_arrays

    rng = np.random.default_rng(0)
    x, y = rng.random((96, 8, 8, 3)).astype("float32"), np.arange(96) % 3
    data = from_arrays(x[:64], y[:64], x_test=x[64:], y_test=y[64:])
    result = run_cifar(
        "gradmax", data, 0, epochs=2, widths=(4, 8), chunks=2, every=1, batch_size=32
    )
    assert result["growth_steps"] == [1]
    assert result["curve"][1]["flops"] > 2 * result["curve"][0]["flops"]


def test_run_cifar_trains_with_a_recipe_and_partial_batch_normalisation():
    import numpy as np

    from automl_kit.capacity.experiments import run_cifar
    from automl_kit.datasets import from_arrays
    from automl_kit.training import Recipe

    rng = np.random.default_rng(0)
    x, y = rng.random((96, 8, 8, 3)).astype("float32"), np.arange(96) % 3
    data = from_arrays(x[:64], y[:64], x_test=x[64:], y_test=y[64:])
    recipe = Recipe(batch_size=32, warmup=0.0)
    result = run_cifar(
        "adaptive", data, 0, epochs=2, widths=(4, 8), chunks=2, every=1, normalize=True,
        recipe=recipe,
    )  # fmt: skip
    model = result["model"]
    assert type(model.optimizer).__name__ == "AdamW" and result["growth_steps"] == [1]
    # the cosine schedule spans the 4 steps of the 2 epochs: it has reached zero
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert model.get_layer("stem").normalize


def test_run_mnist_with_fewer_batches_than_a_sample_reports_a_loss_not_nan():
    # issue 23: 300 images, 2 epochs printed "final-10 loss nan +- nan" with RuntimeWarnings
    import warnings

    from automl_kit.capacity.experiments import run_mnist
    from automl_kit.datasets import from_arrays

    rng = np.random.default_rng(0)
    x, y = rng.random((200, 28, 28, 1), dtype=np.float32), np.arange(200) % 10
    data = from_arrays(x[:150], y[:150], x[150:], y[150:], n_val=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = run_mnist(
            "standard", data, 0, epochs=2, chunks=3, filters=(4, 8), dense=16, sample_every=20
        )
    assert np.isfinite(result["final10_mean"]) and len(result["samples"]) >= 1
    assert 0 <= result["test_accuracy"] <= 1


def test_grow_prints_one_line_per_epoch_with_the_active_width(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--epochs", "2", "--out", str(out)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("training loss" in line and "active units" in line for line in lines)


@pytest.fixture
def digits_npz(tmp_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=x[:300].reshape(-1, 8, 8, 1) / 16.0, y_train=y[:300])
    return path


def test_grow_on_the_users_own_images(tmp_path, capsys, digits_npz):
    out = tmp_path / "run"
    args = ["grow", "--task", "mnist", "--data", str(digits_npz), "--chunks", "2"]
    args += ["--epochs", "1", "--n-test", "60", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "digits.npz (mnist net)/adaptive: test accuracy" in printed
    assert "grow: training the rival, standard" in printed and "on validation:" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["samples"] and 0.0 <= results["test_accuracy"] <= 1.0
    # both nets scored on the data's validation split
    rival = results["rival"]
    assert rival["method_score"] == results["validation_accuracy"]
    assert 0 <= rival["rival_score"] <= 1 and rival["metric"] == "validation accuracy"
    assert rival["rival_test"] is not None and rival["method_seconds"] > 0
    # the data path is saved absolute: --resume alone finds it
    saved = json.loads((out / "config.json").read_text())
    assert saved["data"] == str(digits_npz.resolve())


@pytest.mark.parametrize(
    "task, make, fragment",
    [
        ("sine", "images", "--data needs an image task"),
        ("mnist", "table", "grow's nets take images"),
        ("mnist", "missing", "no such file or folder"),
    ],
)
def test_grow_refuses_data_it_cannot_grow_on(tmp_path, capsys, digits_npz, task, make, fragment):
    path = {"images": digits_npz, "missing": tmp_path / "nothing.npz"}.get(make)
    if make == "table":
        path = tmp_path / "table.npz"
        np.savez(path, x_train=np.random.default_rng(0).random((40, 5)), y_train=np.arange(40) % 2)
    args = ["grow", "--task", task, "--data", str(path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()
