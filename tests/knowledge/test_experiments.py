"""The two-stage protocol's pieces: capacity-matched control, optimizer, input checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from automl_kit.knowledge import base_cnn, compare_two_stage, small_vgg
from automl_kit.knowledge.experiments import _stage_two_model, make_optimizer

GRAPH = np.random.default_rng(0).random((10, 10)) * (1 - np.eye(10))


@pytest.mark.parametrize("match", ["pkgcn1", "pkgcn2"])
def test_dense_control_matches_the_parameter_count_of_the_graph_head(match):
    base = base_cnn((8, 8, 1), 10, hidden=32)
    options = {"direction": "symmetric", "units_l": None, "initializer": "glorot_uniform"}
    pkgcn = _stage_two_model(base, match, GRAPH, control_match=match, **options)
    control = _stage_two_model(base, "dense_control", GRAPH, control_match=match, **options)
    assert control.count_params() > base.count_params()
    assert abs(control.count_params() - pkgcn.count_params()) / pkgcn.count_params() < 0.01
    assert _stage_two_model(base, "none", GRAPH, control_match=match, **options) is base


def test_builders_end_in_a_dense_head_and_adadelta_uses_pytorch_defaults():
    assert small_vgg((16, 16, 3), 10, widths=(4, 8)).layers[-1].units == 10
    with pytest.raises(ValueError, match="n_conv must be 1"):
        base_cnn((8, 8, 1), 10, n_conv=3)
    optimizer = make_optimizer("adadelta")
    assert isinstance(optimizer, keras.optimizers.Adadelta)
    assert float(optimizer.learning_rate) == 1.0 and optimizer.rho == 0.9


def test_compare_two_stage_checks_its_arguments_before_training():
    data = {k: np.zeros((4, 8, 8, 1), "float32") for k in ("x_train", "x_val", "x_test")}
    data.update({k: np.arange(4) % 2 for k in ("y_train", "y_val", "y_test")})
    base = base_cnn((8, 8, 1), 2, hidden=8)
    run = dict(stage1_epochs=1, stage2_epochs=1)
    with pytest.raises(ValueError, match="unknown head 'pkgcn3'"):
        compare_two_stage(base, data, heads=["pkgcn3"], **run)
    with pytest.raises(ValueError, match="stage1_epochs must be >= 1"):
        compare_two_stage(base, data, stage1_epochs=0, stage2_epochs=1)
    with pytest.raises(ValueError, match="data lacks x_val, y_val"):
        compare_two_stage(base, {k: v for k, v in data.items() if "val" not in k}, **run)
    with pytest.raises(ValueError, match="a function building one"):
        compare_two_stage("cnn", data, **run)
    with pytest.raises(ValueError, match="unknown optimizer"):
        compare_two_stage(base, data, optimizer="lbfgs", **run)
    with pytest.raises(ValueError, match="outside 0..1"):
        compare_two_stage(base, {**data, "y_train": np.arange(4)}, **run)


def test_the_dense_control_is_matched_to_the_pkgcn_variant_run():
    from automl_kit.knowledge.experiments import default_control_match

    assert default_control_match(["none", "pkgcn2", "dense_control"]) == "pkgcn2"
    assert default_control_match(["pkgcn1", "dense_control"]) == "pkgcn1"
    assert default_control_match(["pkgcn1", "pkgcn2", "dense_control"]) == "pkgcn1"
    rng = np.random.default_rng(0)
    data = {k: rng.random((20, 8, 8, 1), "float32") for k in ("x_train", "x_val", "x_test")}
    data.update({k: np.arange(20) % 3 for k in ("y_train", "y_val", "y_test")})
    result = compare_two_stage(
        lambda: base_cnn((8, 8, 1), 3, hidden=16),
        data,
        heads=("pkgcn2", "dense_control"),
        stage1_epochs=1,
        stage2_epochs=0,
    )
    params = {head: values["parameters"] for head, values in result["heads"].items()}
    assert abs(params["dense_control"] - params["pkgcn2"]) / params["pkgcn2"] < 0.02
    assert result["settings"]["control_match"] == "pkgcn2"
    assert "smoothing" not in result["settings"]


def test_compare_two_stage_refuses_string_labels_and_one_output_models():
    data = {k: np.zeros((4, 8, 8, 1), "float32") for k in ("x_train", "x_val", "x_test")}
    data.update({k: np.arange(4) % 2 for k in ("y_train", "y_val", "y_test")})
    run = dict(stage1_epochs=1, stage2_epochs=1)
    with pytest.raises(ValueError, match="y_train holds <U1 labels.*np.unique"):
        compare_two_stage(
            base_cnn((8, 8, 1), 2, hidden=8), {**data, "y_train": list("abab")}, **run
        )
    with pytest.raises(ValueError, match=r"Dense\(K>=2\)"):
        inputs = keras.Input((8, 8, 1))
        binary = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
        compare_two_stage(binary, data, **run)


@pytest.mark.slow
def test_same_seed_same_two_stage_result():
    from automl_kit.testing import check_seeded_determinism

    rng = np.random.default_rng(0)
    data = {k: rng.random((40, 8, 8, 1), "float32") for k in ("x_train", "x_val", "x_test")}
    data.update({k: np.arange(40) % 3 for k in ("y_train", "y_val", "y_test")})

    def run(seed):
        result = compare_two_stage(
            lambda: base_cnn((8, 8, 1), 3, hidden=8),
            data,
            heads=("none", "pkgcn2"),
            stage1_epochs=2,
            stage2_epochs=1,
            soft=True,
            seed=seed,
        )
        return {
            "graph": result["graph"],
            **{h: r["test_accuracy"] for h, r in result["heads"].items()},
        }

    check_seeded_determinism(run)


def test_rival_heads_run_from_the_same_stage_one_and_the_kept_head_is_named():
    from automl_kit.knowledge.experiments import (
        DISTILL_TEMPERATURE,
        DISTILL_WEIGHT,
        _distillation_targets,
        choose_head,
    )

    rng = np.random.default_rng(0)
    data = {k: rng.random((30, 8, 8, 1), "float32") for k in ("x_train", "x_val", "x_test")}
    data.update({k: np.arange(30) % 3 for k in ("y_train", "y_val", "y_test")})
    heads = ("none", "pkgcn1_smoothed", "self_distillation", "label_smoothing")
    result = compare_two_stage(
        lambda: base_cnn((8, 8, 1), 3, hidden=8),
        data,
        heads=heads,
        stage1_epochs=1,
        stage2_epochs=1,
        optimizer="recipe",
        return_models=True,
    )
    val = {head: values["val_accuracy"] for head, values in result["heads"].items()}
    assert list(val) == list(heads)
    assert result["winner"] == choose_head(val, 30, "label_smoothing")
    assert result["settings"]["smoothing"] == 0.1
    assert result["settings"]["distillation"] == {
        "weight": DISTILL_WEIGHT,
        "temperature": DISTILL_TEMPERATURE,
    }
    assert (
        result["models"]["pkgcn1_smoothed"].count_params() > result["models"]["none"].count_params()
    )
    # the recipe's optimizer: AdamW on a warm-up + cosine schedule over stage 2's steps
    optimizer = result["models"]["self_distillation"].optimizer
    assert type(optimizer).__name__ == "AdamW"
    assert optimizer.get_config()["learning_rate"]["config"]["total_steps"] == 1  # 30 / 64
    # distillation targets: half the label, half the softened predictions; rows sum to 1
    model = result["models"]["none"]
    one_hot = np.eye(3, dtype="float32")[data["y_train"]]
    targets = _distillation_targets(model, data["x_train"], one_hot, 64)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(targets[one_hot == 1] >= DISTILL_WEIGHT * (1 - 1e-6))
    p = model.predict(data["x_train"], verbose=0) ** (1 / DISTILL_TEMPERATURE)
    expected = (1 - DISTILL_WEIGHT) * one_hot + DISTILL_WEIGHT * p / p.sum(1, keepdims=True)
    np.testing.assert_allclose(targets, expected, rtol=1e-4, atol=1e-6)


def test_choose_head_keeps_the_default_unless_beaten_by_a_standard_error():
    from automl_kit.knowledge.experiments import choose_head

    # label smoothing at 0.90 on 400 images: one standard error is 0.015
    val = {"none": 0.88, "label_smoothing": 0.90, "pkgcn1": 0.914}
    assert choose_head(val, 400, "label_smoothing") == "label_smoothing"
    assert choose_head({**val, "pkgcn1": 0.916}, 400, "label_smoothing") == "pkgcn1"
    # a larger validation set resolves the same gap
    assert choose_head(val, 4000, "label_smoothing") == "pkgcn1"
    # without label smoothing the default is the first head
    assert choose_head({"none": 0.9, "pkgcn1": 0.9}, 400, "none") == "none"
