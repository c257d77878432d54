import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from automl_kit.utils.metrics import harmonic_mean, per_class_report, rank_by_harmonic_mean

# The deck's (seed 002) table: per-class accuracy of classifiers A-F on classes A-D, with its
# printed harmonic means.
DECK_CLASSIFIERS = {
    "A": ([0.95, 0.90, 0.94, 0.99], 0.9439),
    "B": ([0.96, 0.93, 0.97, 0.94], 0.9497),
    "C": ([0.92, 0.93, 0.95, 0.97], 0.9421),
    "D": ([0.94, 0.95, 0.99, 0.94], 0.9546),
    "E": ([0.97, 0.98, 0.95, 0.97], 0.9674),
    "F": ([0.99, 0.91, 0.96, 0.92], 0.9439),
}


@pytest.mark.parametrize("name", sorted(DECK_CLASSIFIERS))
def test_harmonic_mean_matches_deck_table(name):
    scores, printed = DECK_CLASSIFIERS[name]
    assert harmonic_mean(scores) == pytest.approx(printed, abs=5e-5)


def test_deck_ranking_puts_classifier_e_first():
    ranking = rank_by_harmonic_mean({k: v[0] for k, v in DECK_CLASSIFIERS.items()})
    assert ranking[0][0] == "E"
    assert round(100 * ranking[0][1], 2) == 96.74
    assert [name for name, _ in ranking[:3]] == ["E", "D", "B"]


def test_deck_table_from_predictions():
    # Build predictions whose per-class accuracy is classifier E's row (100 samples per class).
    rng = np.random.default_rng(0)
    y_true, y_pred = [], []
    for c, acc in enumerate(DECK_CLASSIFIERS["E"][0]):
        right = round(acc * 100)
        y_true += [c] * 100
        y_pred += [c] * right + [
            int(x) for x in rng.choice([k for k in range(4) if k != c], 100 - right)
        ]
    report = per_class_report(y_true, y_pred, class_names="ABCD")
    assert report.recall.tolist() == pytest.approx([0.97, 0.98, 0.95, 0.97])
    assert report.harmonic("recall") == pytest.approx(0.9674, abs=5e-5)
    assert report.accuracy == pytest.approx(0.9675)


def test_matches_scikit_learn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 5, 400)
    y_pred = np.where(rng.random(400) < 0.7, y_true, rng.integers(0, 5, 400))
    report = per_class_report(y_true, y_pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    np.testing.assert_allclose(report.precision, p)
    np.testing.assert_allclose(report.recall, r)
    np.testing.assert_allclose(report.f1, f)
    np.testing.assert_array_equal(report.support, s)
    np.testing.assert_array_equal(report.confusion, confusion_matrix(y_true, y_pred))
    assert report.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    for avg in ("macro", "weighted"):
        assert getattr(report, avg)("precision") == pytest.approx(
            precision_score(y_true, y_pred, average=avg)
        )
        assert getattr(report, avg)("recall") == pytest.approx(
            recall_score(y_true, y_pred, average=avg)
        )
        assert getattr(report, avg)("f1") == pytest.approx(f1_score(y_true, y_pred, average=avg))


def test_top_confusions_and_summary_are_json_ready():
    import json

    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2]
    y_pred = [1, 1, 1, 0, 1, 0, 2, 0, 2]
    report = per_class_report(y_true, y_pred, class_names=["cat", "dog", "car"])
    top = report.top_confusions(10)
    assert top[0] == {"true": "cat", "predicted": "dog", "count": 3, "fraction_of_true": 0.75}
    assert [(t["true"], t["predicted"]) for t in top[1:]] == [("dog", "cat"), ("car", "cat")]
    summary = json.loads(json.dumps(report.summary()))
    assert summary["confusion_matrix"][0] == [1, 3, 0]
    assert summary["per_class"][2]["class"] == "car"


def test_unpredicted_class_and_absent_class():
    report = per_class_report([0, 0, 1], [0, 0, 0], class_names=["a", "b", "c"])
    assert report.precision.tolist()[1] == 0.0
    assert report.support.tolist() == [2, 1, 0]
    # the absent class 'c' does not enter the macro average or the harmonic mean
    assert report.macro("recall") == pytest.approx(0.5)
    assert report.harmonic("recall") == 0.0


@pytest.mark.parametrize(
    "y_true, y_pred, names, message",
    [
        ([0, 1], [0], None, "pass one prediction per sample"),
        ([[0.2, 0.8]], [1], None, "argmax"),
        ([0, 3], [0, 1], ["a", "b"], "one name per class"),
        ([-1, 0], [0, 0], None, "negative"),
        ([0.5, 1], [0, 1], None, "integer"),
        ([], [], None, "at least one sample"),
    ],
)
def test_bad_input(y_true, y_pred, names, message):
    with pytest.raises(ValueError, match=message):
        per_class_report(y_true, y_pred, names)


def test_bad_scores():
    with pytest.raises(ValueError, match="at least one"):
        harmonic_mean([])
    with pytest.raises(ValueError, match="unknown metric"):
        per_class_report([0], [0]).macro("auc")


def test_no_tensorflow_at_import():
    code = "import sys, automl_kit.utils.metrics; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
