"""Fixes from the new-user trial (issue 14): model input, unseen codes, save/load without
pickle, early stopping, per-epoch progress, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from automl_kit.datasets import check_ehr_tables, ehr_cohort
from automl_kit.datasets._ehr_tables import ehr_example
from automl_kit.ehr import CNNBoostedClassifier, EHRImageMapper
from automl_kit.utils.validation import DataWarning


@pytest.fixture(scope="module")
def cohort():
    tables = ehr_cohort(240, n_dx=8, n_px=3, n_rx=6, positive_rate=0.25, seed=0)
    train, test = tables.split(test_size=0.25, seed=0)
    mapper = EHRImageMapper(layout="random", seed=0).fit(train)
    return train, test, mapper


@pytest.fixture(scope="module")
def boosted(cohort):
    train, test, mapper = cohort
    x, _ = mapper.to_X(train)
    clf = CNNBoostedClassifier(
        RandomForestClassifier(20, random_state=0),
        mapper=mapper,
        cnn_epochs=3,
        cnn_filters=4,
        combine="stacker",
    ).fit(x, train.labels)
    return clf


def test_to_x_has_the_booster_layout_and_aligns_demographics_across_splits(cohort):
    train, test, mapper = cohort
    x, names = mapper.to_X(train)
    counts, _ = train.counts(codes=mapper.features_)
    demo, demo_names = train.demographics()
    w = mapper.n_windows_
    assert names[:w] == [f"{mapper.features_[0]}@w{i}" for i in range(w)]
    assert names[w] == f"{mapper.features_[1]}@w0"
    np.testing.assert_array_equal(x[:, : counts[0].size], counts.reshape(len(counts), -1))
    np.testing.assert_array_equal(x[:, counts[0].size :], demo)
    assert names[counts[0].size :] == demo_names
    # a split lacking a category keeps that column (zeros): the columns never shift
    only = test.subset(test.patients["patient_id"][test.patients["sex"] == "F"])
    x_only, names_only = mapper.to_X(only)
    assert names_only == names and x_only.shape[1] == x.shape[1]
    assert x_only[:, names.index("sex=F")].min() == 1 and not x_only[:, names.index("sex=M")].any()


def test_booster_with_a_mapper_refuses_x_of_the_wrong_columns(cohort):
    train, _, mapper = cohort
    x, _ = mapper.to_X(train)
    wrong = np.hstack([x, x[:, -2:]])  # e.g. demographics twice
    with pytest.raises(ValueError, match=r"build X with mapper.to_X\(tables\)"):
        CNNBoostedClassifier(mapper=mapper).fit(wrong, train.labels)
    scaled = StandardScaler().fit_transform(x)
    with pytest.raises(ValueError, match="pass raw counts"):
        CNNBoostedClassifier(mapper=mapper).fit(scaled, train.labels)
    with pytest.raises(ValueError, match="pass raw counts"):
        make_pipeline(StandardScaler(), CNNBoostedClassifier(mapper=mapper)).fit(x, train.labels)


def test_unseen_codes_at_transform_are_counted_in_a_warning():
    tables = ehr_example()
    mapper = EHRImageMapper(layout="random").fit(tables)
    extra = pd.DataFrame(
        {
            "patient_id": [1, 2],
            "date": ["2020-03-01"] * 2,
            "code": ["rx:new"] * 2,
            "code_type": ["rx"] * 2,
        }
    )
    events = pd.concat([tables.events.assign(date=tables.events["date"].astype(str)), extra])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        more = check_ehr_tables(events, tables.patients, lookback_days=90)
    with pytest.warns(DataWarning, match=r"2 event\(s\) of 1 code\(s\) not seen.*'rx:new'"):
        images = mapper.transform(more)
    np.testing.assert_array_equal(images, mapper.transform(tables))


def test_mapper_is_a_cloneable_estimator_and_misspelled_options_name_the_valid_ones():
    mapper = EHRImageMapper(layout="ga", layout_options={"generations": 5}, seed=3)
    assert clone(mapper).get_params() == mapper.get_params()
    with pytest.raises(ValueError, match=r"layout_options \['generatoins'\].*'generations'"):
        EHRImageMapper(layout="ga", layout_options={"generatoins": 5}).fit(ehr_example())


def test_mapper_save_load_round_trip(tmp_path, cohort):
    train, test, mapper = cohort
    mapper.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    again = EHRImageMapper.load(tmp_path)
    np.testing.assert_array_equal(again.transform(test), mapper.transform(test))
    np.testing.assert_array_equal(again.to_X(test)[0], mapper.to_X(test)[0])
    assert again.summary()["fitness"] == mapper.summary()["fitness"]
    assert again.summary()["lower_bound"] == mapper.summary()["lower_bound"]
    with pytest.raises(ValueError, match="not a directory written by EHRImageMapper.save"):
        EHRImageMapper.load(tmp_path / "nothing")


def test_booster_save_load_keeps_scores_and_says_forests_are_not_saved(tmp_path, cohort, boosted):
    _, test, mapper = cohort
    x, _ = mapper.to_X(test)
    files = boosted.save(tmp_path)
    assert set(files) == {"cnn.keras", "booster.json", "mapper/"}  # a forest: no pickle written
    with pytest.raises(ValueError, match="was not saved.*base_estimator="):
        CNNBoostedClassifier.load(tmp_path)
    again = CNNBoostedClassifier.load(tmp_path, base_estimator=boosted.base_estimator_)
    for key, value in boosted.scores(x).items():
        np.testing.assert_allclose(again.scores(x)[key], value, rtol=1e-6, atol=1e-7)


def test_a_loaded_booster_clones_into_the_model_it_was_built_as(tmp_path, cohort, boosted):
    # issue 23: clone(load(d)) lost mapper and layout, and the demographics became a code
    train, _, mapper = cohort
    x, _ = mapper.to_X(train)
    boosted.save(tmp_path)
    again = CNNBoostedClassifier.load(tmp_path, base_estimator=boosted.base_estimator_)
    params = again.get_params(deep=False)
    assert params["mapper"] is not None
    np.testing.assert_array_equal(params["mapper"].layout_, mapper.layout_)
    refit = clone(again).set_params(cnn_epochs=1).fit(x, train.labels)
    assert refit.n_codes_ == boosted.n_codes_
    np.testing.assert_array_equal(refit.layout_, boosted.layout_)


def test_a_booster_built_with_a_layout_keeps_it_through_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.poisson(1.0, (60, 12)).astype(float), np.arange(60) % 2
    layout = np.array([3, 2, 1, 0])
    clf = CNNBoostedClassifier(
        RandomForestClassifier(5, random_state=0),
        layout=layout,
        grid_shape=(2, 2),
        cnn_epochs=1,
        cnn_filters=2,
    ).fit(x, y)
    clf.save(tmp_path)
    again = CNNBoostedClassifier.load(tmp_path, base_estimator=clf.base_estimator_)
    assert again.get_params()["layout"] == layout.tolist()
    assert tuple(again.get_params()["grid_shape"]) == (2, 2)
    np.testing.assert_array_equal(clone(again).fit(x, y).layout_, clf.layout_)


def test_booster_saves_xgboost_in_its_own_json_format(tmp_path, cohort):
    xgboost = pytest.importorskip("xgboost")
    train, test, mapper = cohort
    x, _ = mapper.to_X(train)
    clf = CNNBoostedClassifier(
        xgboost.XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1, random_state=0),
        mapper=mapper,
        cnn_epochs=1,
        cnn_filters=4,
    ).fit(x, train.labels)
    assert "base_model.json" in clf.save(tmp_path)
    again = CNNBoostedClassifier.load(tmp_path)
    xt, _ = mapper.to_X(test)
    np.testing.assert_allclose(again.predict_proba(xt), clf.predict_proba(xt), rtol=1e-6)


def test_early_stopping_keeps_the_best_validation_epoch_and_reports_each_epoch(capsys):
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, (100, 12)).astype(float)
    y = rng.integers(0, 2, 100)  # noise: validation AUPRC cannot keep rising
    clf = CNNBoostedClassifier(
        RandomForestClassifier(5, random_state=0),
        n_windows=3,
        cnn_epochs=8,
        patience=1,
        batch_size=50,
        cnn_filters=4,
        verbose=1,
    ).fit(x, y)
    out = capsys.readouterr().out
    assert 1 <= clf.cnn_epochs_ < 8
    assert "cnn epoch 1/8: loss" in out and "validation AUPRC" in out
    assert f"kept epoch {clf.cnn_epochs_}" in out
    tiny = CNNBoostedClassifier(n_windows=3, cnn_epochs=2, cnn_filters=4).fit(x[:12], y[:12])
    assert tiny.cnn_epochs_ == 2  # too few patients for a validation split: every epoch


def test_auto_weight_keeps_a_useless_cnn_out_of_the_average():
    rng = np.random.default_rng(1)
    y = (np.arange(160) % 4 == 0).astype(int)
    counts = rng.poisson(1.0, (160, 12)).astype(float)  # image columns: pure noise
    signal = (y + rng.normal(0, 0.3, 160))[:, None]  # a column only the base model sees
    x = np.hstack([counts, signal])
    clf = CNNBoostedClassifier(
        RandomForestClassifier(30, random_state=0),
        n_windows=3,
        n_image_features=4,
        weight="auto",
        cnn_epochs=2,
        cnn_filters=4,
    ).fit(x, y)
    assert clf.weight_ in (0.75, 1.0) and 0 <= clf.validation_auprc_ <= 1
    # a share below 1 only when it beats the base alone by more than one standard error
    auprc, margin = clf.validation_auprc_by_model_, clf.validation_margin_
    assert margin > 0 and (clf.weight_ < 1.0) == (auprc["combined"] - auprc["base"] > margin)
    if clf.weight_ == 1.0:  # the base alone won: refitted on every row, the user's own model
        alone = RandomForestClassifier(30, random_state=0).fit(x, y).predict_proba(x)[:, 1]
        np.testing.assert_allclose(clf.scores(x)["base"], alone)
    else:  # both models held out the validation split
        assert len(clf.base_reference_) == 128
    with pytest.raises(ValueError, match="'auto'"):
        CNNBoostedClassifier(weight="best").fit(x, y)


@pytest.mark.slow
def test_booster_saves_catboost_in_its_own_cbm_format(tmp_path, cohort):
    catboost = pytest.importorskip("catboost")
    train, test, mapper = cohort
    x, _ = mapper.to_X(train)
    base = catboost.CatBoostClassifier(
        iterations=20, verbose=0, thread_count=1, allow_writing_files=False, random_seed=0
    )
    clf = CNNBoostedClassifier(base, mapper=mapper, cnn_epochs=1, cnn_filters=4).fit(
        x, train.labels
    )
    assert "base_model.cbm" in clf.save(tmp_path)
    xt, _ = mapper.to_X(test)
    again = CNNBoostedClassifier.load(tmp_path)
    np.testing.assert_allclose(again.predict_proba(xt), clf.predict_proba(xt), rtol=1e-6)


def test_patient_images_are_titled_by_patient_id():
    from automl_kit.ehr.plots import plot_layout, plot_patients

    images = np.zeros((4, 2, 2, 3), dtype=np.float32)
    fig = plot_patients(images, np.array([1, 0, 1, 0]), ids=np.array(["p7", "p8", "p9", "q1"]))
    titles = {ax.get_title() for ax in fig.axes if ax.get_title()}
    assert titles <= {
        f"{k} patient {i}" for k in ("positive", "negative") for i in ("p7", "p8", "p9", "q1")
    }
    assert "positive patient p7" in titles
    grid = np.array([["dx:a", "rx:b"], ["", "px:c"]], dtype=object)
    texts = {t.get_text() for t in plot_layout(grid).axes[0].texts}
    assert {"dx:a", "rx:b", "px:c"} <= texts


def test_without_a_mapper_a_dataframe_of_to_x_names_marks_the_count_columns(cohort):
    train, _, mapper = cohort
    x, names = mapper.to_X(train)
    frame = pd.DataFrame(x, columns=names)
    clf = CNNBoostedClassifier(
        RandomForestClassifier(5, random_state=0),
        cnn_epochs=1,
        cnn_filters=4,
        early_stopping=False,
    ).fit(frame, train.labels)
    assert clf.n_codes_ == len(mapper.features_)  # demographics are not read as image codes
    assert clf.predict_proba(frame).shape == (len(frame), 2)


def test_cnn_feature_stacks_an_out_of_fold_logit_and_round_trips(tmp_path, cohort):
    xgboost = pytest.importorskip("xgboost")
    train, test, mapper = cohort
    x, _ = mapper.to_X(train)
    xt, _ = mapper.to_X(test)
    base = xgboost.XGBClassifier(n_estimators=20, max_depth=2, n_jobs=1, random_state=0)
    clf = CNNBoostedClassifier(
        base, mapper=mapper, combine="cnn_feature", weight=0.5, cnn_epochs=2, cnn_filters=4
    ).fit(x, train.labels)
    # the stacked trees read one more column (the CNN's logit) than the base model
    assert clf.stacked_estimator_.n_features_in_ == x.shape[1] + 1
    assert clf.weight_ is None  # a numeric weight belongs to the rank average
    s = clf.scores(xt)
    np.testing.assert_allclose(s["combined"], clf._stacked_scores(xt, s["cnn"]))
    assert not np.allclose(s["combined"], s["base"])
    assert {"base_model.json", "stacked_model.json"} <= set(clf.save(tmp_path))
    again = CNNBoostedClassifier.load(tmp_path)
    np.testing.assert_allclose(again.predict_proba(xt), clf.predict_proba(xt), rtol=1e-6)


def test_cnn_feature_with_auto_weight_returns_the_base_unless_stacking_wins(tmp_path):
    rng = np.random.default_rng(1)
    y = (np.arange(160) % 4 == 0).astype(int)
    counts = rng.poisson(1.0, (160, 12)).astype(float)  # image columns: pure noise
    x = np.hstack([counts, (y + rng.normal(0, 0.3, 160))[:, None]])
    clf = CNNBoostedClassifier(
        RandomForestClassifier(30, random_state=0),
        n_windows=3,
        n_image_features=4,
        combine="cnn_feature",
        weight="auto",
        cnn_epochs=2,
        cnn_filters=4,
    ).fit(x, y)
    by_model = clf.validation_auprc_by_model_
    assert set(by_model) == {"base", "combined"}
    s = clf.scores(x)
    if by_model["combined"] - by_model["base"] > clf.validation_margin_:
        assert clf.weight_ is None
    else:  # the base model's own scores, refitted on every row, not the stacked trees'
        assert clf.weight_ == 1.0
        alone = RandomForestClassifier(30, random_state=0).fit(x, y).predict_proba(x)[:, 1]
        np.testing.assert_allclose(s["combined"], alone)
    with pytest.raises(ValueError, match="stacked model .* was not saved.*stacked_estimator="):
        from automl_kit.ehr._booster_io import _load_tree

        _load_tree(
            None, {"file": None, "class": "sklearn.RandomForestClassifier"}, "stacked_estimator"
        )
