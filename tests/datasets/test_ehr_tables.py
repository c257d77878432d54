"""check_ehr_tables / EHRTables: errors name the problem, exclusions are counted, counts are right."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl_kit.datasets import EHRTables, check_ehr_tables
from automl_kit.datasets._ehr_tables import EMPTY, OUTSIDE, UNKNOWN, ehr_example
from automl_kit.utils.validation import DataWarning


def _tables():
    events = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "b", "c"],
            "date": [
                "2020-01-05",
                "2020-02-10",
                "2020-03-31",
                "2020-03-15",
                "2020-03-15",
                "2020-02-01",
            ],
            "code": ["dx:1", "rx:9", "rx:9", "dx:1", "px:5", "dx:2"],
            "code_type": ["dx", "rx", "rx", "dx", "px", "dx"],
        }
    )
    patients = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "index_date": ["2020-03-31"] * 4,
            "label": [1, 0, 0, 1],
            "age": [70.0, 50.0, 60.0, 80.0],
            "sex": ["F", "M", "M", "F"],
        }
    )
    return events, patients


def _check(events, patients, **kw):
    kw.setdefault("lookback_days", 90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return check_ehr_tables(events, patients, **kw)


def test_counts_per_code_and_window_match_a_hand_count():
    tables = _check(*_tables())
    x, codes = tables.counts()
    assert codes == ["dx:1", "dx:2", "px:5", "rx:9"]  # grouped dx, px, rx
    assert x.dtype == np.float32 and x.shape == (4, 4, 3)
    # window = (2020-01-01, 2020-03-31] in three 30-day parts
    assert x[0].tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 1]]  # a
    assert x[1].tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1], [0, 0, 0]]  # b
    assert x[2, 1].tolist() == [0, 1, 0]  # c: dx:2 on 2020-02-01 is in the middle window
    assert not x[3].any()  # d has no events: kept, all zeros
    assert tables.exclusions == {EMPTY: 1}
    assert tables.labels.tolist() == [1, 0, 0, 1]


def test_window_boundaries_are_half_open_and_the_index_date_is_last():
    tables = ehr_example()
    probe = pd.DataFrame(
        {
            "patient_id": [1] * 5 + [99],
            "date": pd.to_datetime(
                ["2020-01-01", "2020-01-02", "2020-01-31", "2020-03-31", "2020-04-01", "2020-03-01"]
            ),
        }
    )
    # start 2020-01-01 is outside, day 30 (2020-01-31) still window 0, after the index outside,
    # an unknown patient -1
    assert tables.window_of(probe).tolist() == [-1, 0, 0, 2, -1, -1]


def test_outside_and_unknown_events_are_excluded_counted_and_warned():
    events, patients = _tables()
    extra = pd.DataFrame(
        {
            "patient_id": ["a", "a", "zz"],
            "date": ["2020-04-01", "2019-06-01", "2020-03-01"],  # after index, before window
            "code": ["dx:1", "dx:1", "dx:1"],
            "code_type": ["dx"] * 3,
        }
    )
    with pytest.warns(
        DataWarning, match="1 events of unknown patients; 2 events outside the window"
    ):
        tables = check_ehr_tables(
            pd.concat([events, extra]), patients, lookback_days=90, on_outside="exclude"
        )
    assert tables.exclusions == {OUTSIDE: 2, UNKNOWN: 1, EMPTY: 1}
    assert len(tables.events) == len(events)  # exactly the bad rows went
    with pytest.raises(ValueError, match="2 row.*outside their patient's window.*on_outside"):
        check_ehr_tables(pd.concat([events, extra]), patients, lookback_days=90, on_outside="raise")


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda e, p: (e.assign(code_type=["dx", "rx", "drug", "dx", "px", "dx"]), p),
            r"unknown code_type \['drug'\]",
        ),
        (lambda e, p: (e.drop(columns="date"), p), r"lacks the column\(s\) \['date'\]"),
        (lambda e, p: (e, p.drop(columns="label")), r"lacks the column\(s\) \['label'\]"),
        (lambda e, p: (e, p.assign(patient_id=["a", "b", "b", "d"])), r"duplicated .*ids \['b'\]"),
        (lambda e, p: (e, p.assign(label=[1, 0, 2, 0])), r"labels must be 0 or 1.*\[2\]"),
        (lambda e, p: (e, p.assign(label=[1, 0, None, 0])), r"labels must be 0 or 1"),
        (
            lambda e, p: (e.assign(date=["2020-01-05", "not a date", *["2020-03-01"] * 4]), p),
            r"unparseable dates .*'not a date'",
        ),
        (lambda e, p: (e.assign(date=[None, *["2020-03-01"] * 5]), p), r"missing dates"),
        (
            lambda e, p: (
                e,
                p.assign(index_date=["2020-03-31", "31/31/2020", "2020-03-31", "2020-03-31"]),
            ),
            r"index_date.*unparseable",
        ),
        (
            lambda e, p: (e.assign(code=["dx:1", "dx:1", "rx:9", "dx:1", "px:5", "dx:2"]), p),
            r"more than one code_type",
        ),
        (
            lambda e, p: (e.assign(code=[None, "rx:9", "rx:9", "dx:1", "px:5", "dx:2"]), p),
            r"code is missing",
        ),
        (
            lambda e, p: (e.assign(patient_id=[None, "a", "a", "b", "b", "c"]), p),
            r"patient_id is missing",
        ),
    ],
)
def test_bad_tables_give_errors_naming_the_problem(edit, message):
    events, patients = edit(*_tables())
    with pytest.raises(ValueError, match=message):
        _check(events, patients)


def test_bad_arguments_are_refused():
    events, patients = _tables()
    for kw, message in (
        ({"lookback_days": 0}, "lookback_days"),
        ({"lookback_days": 1.5}, "lookback_days"),
        ({"lookback_days": 90, "n_windows": 0}, "n_windows"),
        ({"lookback_days": 90, "on_outside": "drop"}, "on_outside"),
    ):
        with pytest.raises(ValueError, match=message):
            check_ehr_tables(events, patients, **kw)
    with pytest.raises(ValueError, match="DataFrame or a CSV/Parquet path"):
        check_ehr_tables(events.to_dict(), patients, lookback_days=90)


def test_csv_and_parquet_paths_give_the_same_tables(tmp_path):
    events, patients = _tables()
    events.to_csv(tmp_path / "e.csv", index=False)
    patients.to_csv(tmp_path / "p.csv", index=False)
    events.to_parquet(tmp_path / "e.parquet")
    patients.to_parquet(tmp_path / "p.parquet")
    frames = _check(events, patients)
    for e, p in (("e.csv", "p.csv"), ("e.parquet", "p.parquet")):
        tables = _check(tmp_path / e, str(tmp_path / p))
        np.testing.assert_array_equal(tables.counts()[0], frames.counts()[0])
        assert tables.events["date"].dtype == "datetime64[ns]"


def test_numeric_and_text_ids_are_matched_as_text():
    events, patients = _tables()
    events["patient_id"] = events["patient_id"].map({"a": 1, "b": 2, "c": 3})
    patients["patient_id"] = ["1", "2", "3", "4"]
    tables = _check(events, patients)
    assert UNKNOWN not in tables.exclusions
    assert tables.counts()[0][:3].sum() == 6


def test_split_is_by_patient_stratified_and_keeps_each_patients_events():
    rng = np.random.default_rng(0)
    n = 200
    patients = pd.DataFrame(
        {
            "patient_id": np.arange(n),
            "index_date": "2020-12-31",
            "label": (np.arange(n) % 10 == 0).astype(int),
        }
    )
    events = pd.DataFrame(
        {
            "patient_id": rng.integers(0, n, 2000),
            "date": pd.Timestamp("2020-12-31") - pd.to_timedelta(rng.integers(0, 300, 2000), "D"),
            "code": rng.choice(["dx:1", "dx:2", "rx:3"], 2000),
        }
    )
    events["code_type"] = events["code"].str[:2]
    tables = _check(events, patients, lookback_days=365)
    train, test = tables.split(test_size=0.25, seed=3)
    assert len(train) == 150 and len(test) == 50
    assert set(train.patients.patient_id).isdisjoint(test.patients.patient_id)
    assert train.labels.sum() == 15 and test.labels.sum() == 5  # stratified
    assert len(train.events) + len(test.events) == len(tables.events)
    assert set(test.events.patient_id) <= set(test.patients.patient_id)
    # same counts for a patient whichever table it is read from
    codes = tables.codes
    whole = tables.counts(codes)[0]
    rows = (
        tables.patients.reset_index().set_index("patient_id").loc[test.patients.patient_id, "index"]
    )
    np.testing.assert_array_equal(test.counts(codes)[0], whole[rows.to_numpy()])
    again = tables.split(test_size=0.25, seed=3)[1]
    assert again.patients.patient_id.tolist() == test.patients.patient_id.tolist()


def test_counts_with_fixed_codes_and_demographics_align_across_splits():
    tables = _check(*_tables())
    x, codes = tables.counts(["rx:9", "dx:404"])
    assert codes == ["rx:9", "dx:404"] and x[0, 0].tolist() == [0, 1, 1] and not x[:, 1].any()
    with pytest.raises(ValueError, match="twice"):
        tables.counts(["rx:9", "rx:9"])
    d, names = tables.demographics()
    assert names == ["age", "sex=F", "sex=M"] and d[:, 1].tolist() == [1, 0, 0, 1]
    part = tables.subset(["b", "c"])
    d2, names2 = part.demographics(names=names)
    assert names2 == names and d2[:, 1].tolist() == [0, 0]  # no F among b, c: zero column
    with pytest.raises(ValueError, match="not in the patient table"):
        tables.demographics(["weight"])
    with pytest.raises(ValueError, match=r"\['zz'\] are not in the patient table"):
        tables.subset(["a", "zz"])


def test_summary_is_json_able():
    import json

    summary = _check(*_tables()).summary()
    assert json.loads(json.dumps(summary))["events"] == {"dx": 3, "px": 1, "rx": 2}
    assert summary["exclusions"] == {EMPTY: 1} and isinstance(_check(*_tables()), EHRTables)


def test_empty_tables_and_mismatched_ids_are_errors_naming_the_fix():
    events, patients = _tables()
    with pytest.raises(ValueError, match="the patient table is empty"):
        check_ehr_tables(events, patients.iloc[:0], lookback_days=90)
    with pytest.raises(ValueError, match="the event table is empty"):
        check_ehr_tables(events.iloc[:0], patients, lookback_days=90)
    upper = events.assign(patient_id=events["patient_id"].str.upper())  # "A" vs "a"
    with pytest.raises(ValueError, match=r"6 of 6 events .*do not match.*case, whitespace"):
        check_ehr_tables(upper, patients, lookback_days=90)
    late = events.assign(date="2021-01-01")  # every event after the index date
    with pytest.raises(ValueError, match="none remain"):
        _check(late, patients)


def test_sub_day_windows_are_refused():
    events, patients = _tables()
    with pytest.raises(ValueError, match="lookback_days=2 is shorter than n_windows=3"):
        check_ehr_tables(events, patients, lookback_days=2, n_windows=3)


def test_mixed_and_day_first_date_formats_are_named_and_date_format_reads_them():
    events, patients = _tables()
    us = pd.to_datetime(events["date"]).dt.strftime("%m/%d/%Y")
    mixed = events.assign(date=["2020-01-05", *us.iloc[1:]])
    with pytest.raises(ValueError, match=r"mixes date formats.*'2020-01-05'.*date_format="):
        _check(mixed, patients)
    reference = _check(events, patients).counts()[0]
    assert np.array_equal(_check(events.assign(date=us), patients).counts()[0], reference)
    day_first = events.assign(date=pd.to_datetime(events["date"]).dt.strftime("%d/%m/%Y"))
    with pytest.raises(ValueError, match=r"day-first dates only .*'31/03/2020'.*dayfirst=True"):
        check_ehr_tables(day_first, patients, lookback_days=90)  # 05/01 would read as May 1
    later = day_first.assign(date=["31/01/2020", *day_first["date"].iloc[1:]])
    with pytest.warns(DataWarning, match="read day-first.*dayfirst=True"):
        check_ehr_tables(later, patients, lookback_days=90)  # the first row says it
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", DataWarning)  # the patient without events
        tables = check_ehr_tables(
            day_first,
            patients.assign(index_date="31/03/2020"),  # date_format is for both tables
            lookback_days=90,
            date_format="%d/%m/%Y",
        )
    assert np.array_equal(tables.counts()[0], reference)
