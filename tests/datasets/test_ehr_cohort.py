"""ehr_cohort: the simulator's generative story holds in the tables it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from automl_kit.datasets import EHRTables, ehr_cohort


@pytest.fixture(scope="module")
def cohort() -> EHRTables:
    return ehr_cohort(20000, seed=0)


def test_shape_types_windows_and_no_exclusions(cohort):
    assert isinstance(cohort, EHRTables) and len(cohort) == 20000
    assert cohort.n_windows == 3 and cohort.exclusions == {}
    assert set(cohort.code_types.values()) == {"dx", "px", "rx"}
    per_type = pd.Series(cohort.code_types).value_counts()
    assert per_type["dx"] == 60 and per_type["px"] == 20 and per_type["rx"] == 40
    window = cohort.window_of()
    assert window.min() == 0 and np.bincount(window).min() > 0.2 * len(window)
    assert cohort.events.patient_id.nunique() == 20000  # everyone has the index disease coded
    assert set(cohort.patients.columns) >= {"age", "sex"}
    assert cohort.patients.age.between(30, 95).all() and set(cohort.patients.sex) == {"F", "M"}


def test_positive_rate_is_near_the_target(cohort):
    assert 0.025 <= cohort.labels.mean() <= 0.035
    small = ehr_cohort(4000, positive_rate=0.10, seed=1)
    assert 0.085 <= small.labels.mean() <= 0.115


def test_same_seed_same_tables_other_seed_other_tables():
    a, b, c = ehr_cohort(500, seed=7), ehr_cohort(500, seed=7), ehr_cohort(500, seed=8)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    assert a.truth["drivers"] == b.truth["drivers"]
    assert not a.events.equals(c.events) and a.truth["drivers"] != c.truth["drivers"]


def test_code_use_is_long_tailed(cohort):
    use = cohort.events.code.value_counts().to_numpy()
    assert use.max() / use.min() > 20
    top = max(1, len(use) // 10)
    assert use[:top].sum() > 0.25 * use.sum()  # the top 10% of codes carry over a quarter


def test_treatments_follow_their_indication_on_the_same_claim(cohort):
    ev = cohort.events
    claims = ev.assign(claim=ev.patient_id.astype(str) + "/" + ev.date.astype(str))
    dx = claims[claims.code_type == "dx"][["claim", "code"]].drop_duplicates()
    tr = claims[claims.code_type != "dx"][["claim", "code"]].drop_duplicates()
    pair = dx.merge(tr, on="claim", suffixes=("_dx", "_tr"))
    joint = pair.groupby(["code_dx", "code_tr"]).size()
    p_tr_given_dx = (
        joint / dx.code.value_counts().reindex(joint.index.get_level_values(0)).to_numpy()
    )
    best = p_tr_given_dx.groupby(level=1).idxmax().map(lambda ix: ix[0])
    indication = pd.Series(cohort.truth["indication"])
    agree = (best.reindex(indication.index) == indication).mean()
    assert agree > 0.9  # P(rx|dx) on a claim recovers the planted relation


def test_active_driver_patterns_match_their_definition_and_drive_the_outcome(cohort):
    x, codes = cohort.counts()
    col = {c: i for i, c in enumerate(codes)}
    active = cohort.truth["active"]
    for j, (d, t) in enumerate(cohort.truth["drivers"]):
        cd, ct = x[:, col[d]], x[:, col[t]]
        rising = (cd[:, 2] > 0) & (ct[:, 2] > 0) & (cd[:, 2] + ct[:, 2] > cd[:, 0] + ct[:, 0])
        stopped = (ct[:, :2].sum(1) > 0) & (ct[:, 2] == 0) & (cd[:, 2] > 0)
        np.testing.assert_array_equal(active[:, j], rising | stopped)
        assert cohort.truth["escalation"][t] and cohort.truth["indication"][t] == d
    y = cohort.labels
    n_active = active.sum(axis=1)
    assert y[n_active >= 2].mean() > 10 * y[n_active == 0].mean()
    assert roc_auc_score(y, n_active) > 0.8
    assert roc_auc_score(y, cohort.truth["risk"]) > roc_auc_score(y, n_active)


def test_bad_arguments_name_the_problem():
    for kw, message in (
        ({"n_patients": 0}, "n_patients"),
        ({"n_dx": 1}, "n_dx"),
        ({"n_px": 0, "n_rx": 0}, "n_px \\+ n_rx"),
        ({"positive_rate": 0.0}, "positive_rate"),
        ({"positive_rate": 0.7}, "positive_rate"),
        ({"n_conditions": 100}, "n_conditions"),
        ({"seed": -1}, "seed"),
    ):
        with pytest.raises(ValueError, match=message):
            ehr_cohort(**{"n_patients": 100, **kw})


@pytest.mark.slow
def test_a_tree_on_counts_does_not_reach_the_true_risk(cohort):
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, test = cohort.split(test_size=0.3, seed=0)
    xtr, codes = train.counts()
    xte, _ = test.counts(codes)
    tree = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
    tree.fit(xtr.reshape(len(xtr), -1), train.labels)
    score = tree.predict_proba(xte.reshape(len(xte), -1))[:, 1]
    risk = cohort.truth["risk"][test.patients.patient_id.to_numpy()]
    assert roc_auc_score(test.labels, score) < roc_auc_score(test.labels, risk)
