"""diabetes_events: one sample per patient, encounter order as time, everything left out counted."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_kit.datasets import CorruptDataError, DatasetNotAvailableError, diabetes_events
from automl_kit.datasets._diabetes_events import (
    DRUGS,
    EARLY_KEY,
    EXPIRED,
    EXPIRED_KEY,
    FUTURE_KEY,
    icd9_category,
)

DATA = os.environ.get("AUTOML_KIT_DATA")
FILE = Path(DATA or ".") / "diabetes_130us" / "diabetic_data.csv.gz"
pytestmark = pytest.mark.skipif(
    not FILE.is_file(),
    reason="needs the UCI Diabetes 130-US file: set AUTOML_KIT_DATA to a folder holding "
    "diabetes_130us/diabetic_data.csv.gz",
)


def _raw(path=FILE) -> pd.DataFrame:
    return pd.read_csv(path, na_values="?", keep_default_na=False, dtype={"payer_code": str})


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """The file's first 6,000 encounters, so detailed checks run in a second."""
    folder = tmp_path_factory.mktemp("data")
    (folder / "diabetes_130us").mkdir()
    _raw().head(6000).to_csv(
        folder / "diabetes_130us" / "diabetic_data.csv.gz", index=False, na_rep="?"
    )
    return folder


def test_whole_file_one_sample_per_patient_and_every_patient_accounted_for():
    tables = diabetes_events()
    raw = _raw()
    assert tables.patients.patient_id.is_unique
    assert len(tables) + tables.exclusions[EXPIRED_KEY] == raw.patient_nbr.nunique() == 71518
    assert set(tables.events.patient_id) <= set(tables.patients.patient_id)
    assert tables.window_of().min() >= 0 and tables.n_windows == 3
    assert 0.05 < tables.labels.mean() < 0.12
    assert tables.exclusions[FUTURE_KEY] > 0 and tables.exclusions[EARLY_KEY] > 0
    types = pd.Series(tables.code_types).value_counts()
    assert types["dx"] > 100 and types["rx"] > 10 and types["px"] == 6
    train, test = tables.split(test_size=0.2, seed=0)
    assert set(train.patients.patient_id).isdisjoint(test.patients.patient_id)


def test_last_index_matches_a_hand_computation(small):
    raw = _raw(small / "diabetes_130us" / "diabetic_data.csv.gz").sort_values("encounter_id")
    tables = diabetes_events(small, index="last", min_patients=1)
    x, codes = tables.counts()
    col = {c: i for i, c in enumerate(codes)}
    many = raw.patient_nbr.value_counts()
    for patient in many.index[:5]:  # patients with the most encounters in the sample
        mine = raw[raw.patient_nbr == patient]
        last = mine.iloc[-1]
        row = np.flatnonzero(tables.patients.patient_id.to_numpy() == patient)
        if last.discharge_disposition_id in EXPIRED:
            assert row.size == 0
            continue
        (i,) = row
        assert tables.labels[i] == int(last.readmitted == "<30")
        assert tables.patients.prior_encounters[i] == len(mine) - 1
        expected = np.zeros((len(codes), 3), np.float32)
        for back, (_, enc) in enumerate(mine.iloc[::-1].head(3).iterrows()):
            for d in ("diag_1", "diag_2", "diag_3"):
                if isinstance(enc[d], str):
                    expected[col["dx:" + icd9_category(enc[d])], 2 - back] += 1
            for drug in DRUGS:
                if enc[drug] in ("Up", "Down", "Steady"):
                    expected[col[f"rx:{drug}:{enc[drug].lower()}"], 2 - back] += 1
            if enc["A1Cresult"] != "None":
                expected[col[f"px:A1C:{enc['A1Cresult']}"], 2 - back] += 1
            if enc["max_glu_serum"] != "None":
                expected[col[f"px:glucose:{enc['max_glu_serum']}"], 2 - back] += 1
        np.testing.assert_array_equal(x[i], expected)


def test_index_choice_is_seeded_and_nothing_after_the_index_is_used(small):
    a = diabetes_events(small, seed=0)
    b = diabetes_events(small, seed=0)
    c = diabetes_events(small, seed=1)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.patients.prior_encounters.equals(c.patients.prior_encounters)
    first = diabetes_events(small, index="first")
    assert (first.patients.prior_encounters == 0).all()
    assert first.exclusions[EARLY_KEY] == 0
    # encounters: each one is used, in the future, before the window, or of an excluded patient
    raw = _raw(small / "diabetes_130us" / "diabetic_data.csv.gz")
    used = a.patients.prior_encounters.clip(upper=2).sum() + len(a)
    dead = raw.patient_nbr.isin(set(raw.patient_nbr) - set(a.patients.patient_id)).sum()
    assert used + a.exclusions[FUTURE_KEY] + a.exclusions[EARLY_KEY] + dead == len(raw)


def test_rare_codes_are_pooled_not_dropped(small):
    every = diabetes_events(small, index="last", min_patients=1)
    pooled = diabetes_events(small, index="last", min_patients=20)
    assert len(pooled.events) == len(every.events)  # same events, coarser codes
    users = pooled.events.drop_duplicates(["code", "patient_id"]).code.value_counts()
    plain = users[~users.index.str.contains(":other")]
    assert plain.min() >= 20 and len(users) < len(every.codes)
    assert "pooled" in pooled.description


def test_bad_arguments_and_missing_or_corrupt_files(tmp_path, small):
    for kw, message in (
        ({"index": "middle"}, "index"),
        ({"n_windows": 0}, "n_windows"),
        ({"min_patients": 0}, "min_patients"),
    ):
        with pytest.raises(ValueError, match=message):
            diabetes_events(small, **kw)
    with pytest.raises(DatasetNotAvailableError, match="diabetes_130us"):
        diabetes_events(tmp_path)
    broken = tmp_path / "diabetes_130us"
    broken.mkdir()
    shutil.copy(small / "diabetes_130us" / "diabetic_data.csv.gz", broken)
    _raw(broken / "diabetic_data.csv.gz").drop(columns="insulin").to_csv(
        broken / "diabetic_data.csv.gz", index=False
    )
    with pytest.raises(CorruptDataError, match=r"lacks the columns \['insulin'\]"):
        diabetes_events(tmp_path)
