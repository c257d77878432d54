"""CNNBoostedClassifier: scikit-learn's estimator checks, combination, bad inputs."""

from __future__ import annotations

import warnings
from unittest import SkipTest

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.estimator_checks import estimator_checks_generator

from automl_kit.ehr import CNNBoostedClassifier

# checks that train no CNN, run in the default test run; all of them run under -m slow
NO_TRAINING = {
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_estimators_unfitted",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_positive_only_tag_during_fit",
    "check_complex_data",
    "check_estimators_empty_data_messages",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_classifiers_one_label",
    "check_classifiers_regression_target",
    "check_supervised_y_no_nan",
    "check_classifier_not_supporting_multiclass",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_fit1d",
    "check_requires_y_none",
    "check_fit_non_negative",
    "check_fit2d_1sample",
}


def _small(**kw) -> CNNBoostedClassifier:
    options = dict(n_windows=1, cnn_epochs=3, cnn_filters=4, batch_size=32)
    return CNNBoostedClassifier(RandomForestClassifier(10, random_state=0), **{**options, **kw})


def _run_checks(names: set[str] | None) -> list[str]:
    ran = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for estimator, check in estimator_checks_generator(_small(), legacy=True, mark=None):
            name = getattr(check, "func", check).__name__
            if names is None or name in names:
                try:
                    check(estimator)
                except SkipTest:  # e.g. array-API checks without SCIPY_ARRAY_API
                    continue
                ran.append(name)
    return ran


def test_passes_the_estimator_checks_that_train_no_cnn():
    ran = _run_checks(NO_TRAINING)
    assert set(ran) == NO_TRAINING, NO_TRAINING - set(ran)


@pytest.mark.slow
def test_passes_every_applicable_estimator_check():
    ran = _run_checks(None)
    assert {"check_classifiers_train", "check_fit_idempotent", "check_estimators_pickle"} <= set(
        ran
    )


def _data(n=120, seed=0):
    """Two codes x three windows of counts; positives have more of code 0 late."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 4 == 0).astype(int)
    x = rng.poisson(1.0, (n, 2, 3)).astype(float)
    x[y == 1, 0, 2] += 3
    return x.reshape(n, -1), y


@pytest.fixture(scope="module")
def fitted():
    x, y = _data()
    return _small(n_windows=3, cnn_epochs=4).fit(x, np.where(y == 1, "yes", "no")), x, y


def test_scores_combine_ranks_on_the_base_models_scale(fitted):
    clf, x, y = fitted
    assert clf.classes_.tolist() == ["no", "yes"] and clf.grid_shape_ == (2, 2)
    proba = clf.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    s = clf.scores(x)

    # a rank average: the combined score is non-decreasing in the mean mid-rank percentile
    def percentile(reference, values):  # mid-ranks, interpolated between reference scores
        knots, counts = np.unique(reference, return_counts=True)
        return np.interp(values, knots, (np.cumsum(counts) - counts / 2) / len(reference))

    pct = 0.5 * percentile(clf.base_reference_, s["base"]) + 0.5 * percentile(
        clf.cnn_reference_, s["cnn"]
    )
    order = np.argsort(pct, kind="stable")
    assert np.all(np.diff(s["combined"][order]) >= -1e-12)
    assert np.unique(pct).size > 10  # the check compares many distinct ranks
    assert s["combined"].min() >= clf.base_reference_.min() - 1e-12
    assert s["combined"].max() <= clf.base_reference_.max() + 1e-12
    # positives (planted signal) rank above negatives
    assert s["combined"][y == 1].mean() > s["combined"][y == 0].mean()
    assert set(clf.predict(x)) <= {"no", "yes"}


def test_same_seed_same_scores_and_clone_is_unfitted(fitted):
    clf, x, y = fitted
    again = clone(clf).fit(x, np.where(y == 1, "yes", "no"))
    np.testing.assert_allclose(again.predict_proba(x), clf.predict_proba(x))
    assert not hasattr(clone(clf), "cnn_")


def test_stacker_is_fitted_on_a_held_out_split_only():
    x, y = _data(80)
    clf = _small(n_windows=3, combine="stacker", cnn_epochs=1, balance=None).fit(x, y)
    assert len(clf.base_reference_) == 64  # the models saw 80% of the rows
    assert clf.stacker_.coef_.shape == (1, 2)
    assert np.all((clf.predict_proba(x) >= 0) & (clf.predict_proba(x) <= 1))


@pytest.mark.parametrize(
    "kwargs, x, fragment",
    [
        ({"combine": "max"}, None, "unknown combine"),
        ({"weight": 2.0}, None, "weight"),
        ({"balance": 1.0}, None, "balance"),
        ({"n_windows": 4}, None, "multiple of n_windows"),
        ({"n_image_features": 3, "n_windows": 3}, None, "need 3 codes x 3 windows"),
        ({"layout": [0, 1, -1, -1]}, None, "grid_shape"),
        ({"layout": [0, 0, -1, -1], "grid_shape": (2, 2)}, None, "exactly once"),
        ({"base_estimator": object()}, None, "predict_proba"),
        ({"n_windows": 3}, -np.ones((8, 6)), "Negative values"),
        ({"n_windows": 3}, np.full((8, 6), np.nan), "NaN"),
    ],
)
def test_bad_input_gives_clear_errors(kwargs, x, fragment):
    x_ok, y = _data(8)
    with pytest.raises(ValueError, match=fragment):
        CNNBoostedClassifier(**kwargs).fit(x_ok if x is None else x, y)


def test_multiclass_and_unfitted_mapper_are_refused():
    x, _ = _data(9)
    with pytest.raises(ValueError, match="Only binary classification"):
        _small(n_windows=3).fit(x, np.arange(9) % 3)
    from automl_kit.ehr import EHRImageMapper

    with pytest.raises(ValueError, match="fitted EHRImageMapper"):
        CNNBoostedClassifier(mapper=EHRImageMapper()).fit(x, np.arange(9) % 2)
