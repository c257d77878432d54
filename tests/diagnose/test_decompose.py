import json

import numpy as np
import pytest

from automl_kit.diagnose import decompose_errors, diagnose

# The deck's (seed 002) Models A-D: Bayes 0.5%, human-level 0.7%; training and dev errors,
# and the printed bias / avoidable bias, variance and conclusion.
MODELS = {
    "A": (0.035, 0.078, 0.030, 0.028, 0.043, "high bias and high variance: first focus on bias"),
    # The deck prints variance 0.8% for Model B, but its own dev - training is 4.0 - 3.5 = 0.5%;
    # its conclusion (low variance) holds either way.
    "B": (0.035, 0.040, 0.030, 0.028, 0.005, "high bias, low variance: focus on bias"),
    "C": (0.010, 0.050, 0.005, 0.003, 0.040, "low bias, high variance: focus on variance"),
    "D": (0.008, 0.010, 0.003, 0.001, 0.002, "low bias and variance: quite well-trained model"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deck_models_a_to_d(name):
    training, dev, bias, avoidable, variance, conclusion = MODELS[name]
    d = decompose_errors(training, dev, human_level_error=0.007, bayes_error=0.005)
    assert d.components["bias"] == pytest.approx(bias)
    assert d.components["avoidable_bias"] == pytest.approx(avoidable)
    assert d.components["variance"] == pytest.approx(variance)
    assert d.verdict == conclusion


def test_focus_bias_first_then_variance_and_ranked_advice():
    a = decompose_errors(0.035, 0.078, human_level_error=0.007, dataset="cifar10")
    assert a.focus == ["avoidable_bias", "variance"]
    ranks = [r.rank for r in a.recommendations]
    assert ranks == list(range(1, len(ranks) + 1))
    problems = [r.problem for r in a.recommendations]
    # all bias knobs come before any variance knob
    assert problems.index("variance") > max(
        i for i, p in enumerate(problems) if p == "avoidable_bias"
    )
    assert any("automl-kit evolve --dataset cifar10" in r.command for r in a.recommendations)
    assert all(r.keras or r.command for r in a.recommendations)
    assert any("automl-kit train --dataset cifar10" in r.command for r in a.recommendations)
    table = decompose_errors(
        0.035, 0.078, human_level_error=0.007, dataset="diabetes", kind="tabular"
    )
    commands = [r.command for r in table.recommendations if r.command.startswith("automl-kit")]
    assert commands and all("--space dense" in c for c in commands if "evolve" in c)
    assert not any("automl-kit train" in c for c in commands)
    c = decompose_errors(0.010, 0.050, human_level_error=0.007)
    assert c.recommendations[0].problem == "variance"
    assert any("Dropout" in r.keras for r in c.recommendations)
    assert any("EarlyStopping" in r.keras for r in c.recommendations)
    assert decompose_errors(0.008, 0.010, human_level_error=0.007).recommendations == []


def test_train_dev_splits_variance_from_data_mismatch():
    d = decompose_errors(0.01, 0.10, human_level_error=0.01, train_dev_error=0.015, test_error=0.14)
    assert d.components["variance"] == pytest.approx(0.005)
    assert d.components["data_mismatch"] == pytest.approx(0.085)
    assert d.components["dev_overfitting"] == pytest.approx(0.04)
    assert d.focus == ["data_mismatch", "dev_overfitting"]
    assert "data mismatch" in d.verdict and "overfitting to the dev set" in d.verdict
    assert d.recommendations[0].problem == "data_mismatch"


def test_missing_human_level_and_high_human_level():
    d = decompose_errors(0.02, 0.025)
    assert d.components["avoidable_bias"] == pytest.approx(0.02) and d.notes
    assert d.components["bias"] is None
    h = decompose_errors(0.26, 0.27, human_level_error=0.25)
    assert h.focus == ["human_level"] and h.recommendations[0].problem == "human_level"
    assert "clean the data" in h.verdict


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"training_error": 3.5, "dev_error": 0.07}, r"write 0.035 for 3.5%"),
        ({"training_error": 0.03, "dev_error": float("nan")}, "dev_error"),
        ({"training_error": 0.03, "dev_error": 0.04, "tolerance": 0}, "tolerance"),
        (
            {
                "training_error": 0.03,
                "dev_error": 0.04,
                "human_level_error": 0.01,
                "bayes_error": 0.02,
            },
            "cannot exceed the human-level",
        ),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        decompose_errors(**kwargs)


def test_diagnose_a_trained_model(digits, trained, tmp_path):
    d = diagnose(trained, digits, human_level_error=0.01, run_dir=tmp_path)
    train_acc = trained.evaluate(digits.x_train, digits.y_train, verbose=0)[1]
    assert d.errors["training"] == pytest.approx(1 - train_acc, abs=1e-6)
    dev_pred = trained.predict(digits.x_val, verbose=0).argmax(1)
    assert d.errors["dev"] == pytest.approx(np.mean(dev_pred != digits.y_val))
    assert d.components["variance"] == pytest.approx(d.errors["dev"] - d.errors["training"])
    assert set(d.reports) == {"dev", "test"}
    assert d.model["parameters"] == trained.count_params()
    errs = d.error_analysis["confident_errors"]
    assert errs and all(e["true"] != e["predicted"] for e in errs)
    conf = [e["confidence"] for e in errs]
    assert conf == sorted(conf, reverse=True)
    # rows name the source rows of the validation split
    assert {e["row"] for e in errs} <= set(digits.index_val.tolist())
    saved = json.loads((tmp_path / "diagnosis.json").read_text())
    assert saved["verdict"] == d.verdict
    html = (tmp_path / "report.html").read_text()
    assert d.verdict in html and "data:image/png;base64," in html
    assert (tmp_path / "errors_to_tag.csv").exists()


def test_diagnose_with_train_dev_and_arrays(digits, trained):
    arrays = (digits.x_train, digits.y_train, digits.x_val, digits.y_val)
    d = diagnose(trained, arrays, train_dev=(digits.x_test, digits.y_test))
    assert d.errors["test"] is None and d.errors["train_dev"] is not None
    assert d.components["data_mismatch"] == pytest.approx(d.errors["dev"] - d.errors["train_dev"])


def test_diagnose_rejects_bad_input(digits, trained):
    with pytest.raises(ValueError, match="Dataset or a tuple"):
        diagnose(trained, {"x": 1})
    with pytest.raises(ValueError, match="human_level_error"):
        diagnose(trained, digits, human_level_error=5)
    with pytest.raises(ValueError, match="pair"):
        diagnose(trained, digits, train_dev=digits.x_val)


def test_a_scikit_learn_classifier_is_diagnosed_like_a_keras_model():
    # `auto` diagnoses a winning tree: probabilities come from predict_proba, rows flattened
    from sklearn.linear_model import LogisticRegression

    from automl_kit import datasets

    data = datasets.load("digits", n_train=400, n_val=150, n_test=150, seed=0)
    model = LogisticRegression(max_iter=300).fit(data.x_train.reshape(400, -1), data.y_train)
    diagnosis = diagnose(model, data)
    expected = 1 - model.score(data.x_val.reshape(150, -1), data.y_val)
    assert diagnosis.errors["dev"] == pytest.approx(expected)
    assert diagnosis.model == {"name": "LogisticRegression"} and diagnosis.verdict
