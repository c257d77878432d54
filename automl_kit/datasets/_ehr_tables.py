"""Event and patient tables of an EHR/claims cohort, checked: ``check_ehr_tables`` -> ``EHRTables``.

The shape is what claims users have (Xiao's thesis, Part 5.2.1): an *event* table, one row per
diagnosis (``dx``), procedure (``px``) or prescription (``rx``) of a patient on a date, and a
*patient* table with an index date, a 0/1 label and demographics. The observation window of a
patient is ``(index_date - lookback_days, index_date]``, cut into ``n_windows`` equal parts
(earliest = 0); per code and window the events are counted, which is what the thesis maps to the
channels of an image.

Nothing is dropped silently: every event or patient that is left out, and every patient kept
without events, is counted in ``EHRTables.exclusions`` and named in one
:class:`~automl_kit.utils.validation.DataWarning`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from automl_kit.utils.validation import DataWarning

#: The code types of the event table, in the order ``EHRTables.codes`` lists them.
CODE_TYPES = ("dx", "px", "rx")
EVENT_COLUMNS = ("patient_id", "date", "code", "code_type")
PATIENT_COLUMNS = ("patient_id", "index_date", "label")

#: Keys of ``EHRTables.exclusions``.
OUTSIDE = "events outside the window"
UNKNOWN = "events of unknown patients"
EMPTY = "patients without events (kept, all-zero counts)"


@dataclass
class EHRTables:
    """A checked cohort: ``events`` (patient_id, date, code, code_type) and ``patients``.

    ``patients`` has one row per patient (``patient_id``, ``index_date``, ``label`` 0/1 and any
    demographic columns); its row order is the sample order of :meth:`counts` and
    :meth:`demographics`. Every event lies in its patient's window ``(index_date -
    lookback_days, index_date]``. ``exclusions`` maps a reason to the number of rows it concerns
    (see :func:`check_ehr_tables`); ``truth`` holds what a simulator knows (None for real data).
    Build one with :func:`check_ehr_tables`, not by hand.

    >>> tables = ehr_example()
    >>> x, codes = tables.counts()
    >>> x.shape, codes
    ((3, 3, 3), ['dx:a', 'px:b', 'rx:c'])
    >>> x[0].tolist()  # patient 1: dx:a in windows 0 and 2, rx:c twice in window 2
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]
    """

    events: object  # pandas.DataFrame
    patients: object  # pandas.DataFrame
    lookback_days: int
    n_windows: int = 3
    exclusions: dict = field(default_factory=dict)
    description: str = ""
    truth: dict | None = None

    def __len__(self) -> int:
        return len(self.patients)

    @property
    def labels(self) -> np.ndarray:
        """The 0/1 labels, int64, in patient-table order."""
        return self.patients["label"].to_numpy(np.int64)

    @property
    def codes(self) -> list[str]:
        """Every code with an event, grouped dx, px, rx, each group sorted by name."""
        pairs = self.events[["code", "code_type"]].drop_duplicates()
        order = {t: i for i, t in enumerate(CODE_TYPES)}
        return [
            c for _, c in sorted((order[t], c) for c, t in pairs.itertuples(index=False, name=None))
        ]

    @property
    def code_types(self) -> dict[str, str]:
        """``{code: "dx" | "px" | "rx"}`` for every code with an event."""
        pairs = self.events[["code", "code_type"]].drop_duplicates()
        return dict(pairs.itertuples(index=False, name=None))

    def window_of(self, events=None) -> np.ndarray:
        """The window (0 = earliest .. ``n_windows - 1``) of each event; -1 outside the window.

        ``events`` (default: this table's) may hold any patients of ``patients``; an event of an
        unknown patient also gets -1. Window ``w`` covers days ``(w * L / n, (w + 1) * L / n]``
        after ``index_date - L`` (``L = lookback_days``), so an event on the index date is in
        the last window.
        """
        import pandas as pd

        events = self.events if events is None else events
        index = pd.Series(
            self.patients["index_date"].to_numpy(), index=self.patients["patient_id"].to_numpy()
        )
        index_dates = pd.to_datetime(
            events["patient_id"].map(index).to_numpy()
        )  # NaT for unknown patients
        return _windows(
            pd.to_datetime(events["date"]).to_numpy(),
            index_dates.to_numpy(),
            self.lookback_days,
            self.n_windows,
        )

    def counts(self, codes=None) -> tuple[np.ndarray, list[str]]:
        """Event counts per patient, code and window: ``(n_patients, n_codes, n_windows)`` float32.

        ``codes`` (default :attr:`codes`) fixes the code axis, e.g. the training split's codes
        for its test split: events of other codes are not counted, and a listed code without
        events is an all-zero column. Raw counts; scaling to [0, 1] is the image mapper's job.
        """
        codes = self.codes if codes is None else [str(c) for c in codes]
        if len(set(codes)) != len(codes):
            raise ValueError("codes lists a code twice; pass each code once.")
        n, k, w = len(self.patients), len(codes), self.n_windows
        rows = _positions(self.events["patient_id"], self.patients["patient_id"])
        cols = _positions(self.events["code"], codes)
        window = self.window_of()
        keep = (cols >= 0) & (rows >= 0) & (window >= 0)
        flat = (rows[keep] * k + cols[keep]) * w + window[keep]
        out = np.bincount(flat, minlength=n * k * w).astype(np.float32)
        return out.reshape(n, k, w), codes

    def demographics(self, columns=None, names=None) -> tuple[np.ndarray, list[str]]:
        """The patient table's other columns as float32 features ``(n_patients, n_features)``.

        ``columns`` defaults to every column but ``patient_id``, ``index_date`` and ``label``.
        Numbers and booleans are kept (missing numbers -> error naming the column); text columns
        are one-hot ``<column>=<value>`` (missing text as ``<column>=missing``). ``names``: the
        feature names another split returned (e.g. the training split's), to encode this one
        alike: a value that split lacked gets no column, a value this one lacks is all zeros.

        >>> ehr_example().demographics()[1]
        ['age', 'sex=F', 'sex=M']
        """
        import pandas as pd

        frame = self.patients
        if columns is None:
            columns = [c for c in frame.columns if c not in PATIENT_COLUMNS]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"demographic column(s) {missing} are not in the patient table; its columns "
                f"are {[str(c) for c in frame.columns]}."
            )
        parts = []
        for col in columns:
            values = frame[col]
            if values.dtype.kind in "iufb":
                if values.isna().any():
                    raise ValueError(
                        f"demographic column {col!r} has {int(values.isna().sum())} missing "
                        "value(s); impute them (or drop the column) first."
                    )
                parts.append(pd.DataFrame({str(col): values.to_numpy(np.float32)}))
            else:
                text = values.astype(str).where(values.notna(), "missing")
                parts.append(pd.get_dummies(text, prefix=str(col), prefix_sep="="))
        encoded = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
        if names is not None:
            encoded = encoded.reindex(columns=list(names), fill_value=0)
        return encoded.to_numpy(np.float32), [str(c) for c in encoded.columns]

    def subset(self, patient_ids) -> EHRTables:
        """The tables of the given patients (in that order) and their events."""
        ids = list(patient_ids)
        rows = _positions(ids, self.patients["patient_id"])
        if (rows < 0).any():
            unknown = [ids[i] for i in np.flatnonzero(rows < 0)[:5]]
            raise ValueError(f"patient ids {unknown} are not in the patient table.")
        patients = self.patients.iloc[rows].reset_index(drop=True)
        events = self.events[self.events["patient_id"].isin(ids)].reset_index(drop=True)
        return replace(self, patients=patients, events=events)

    def split(self, test_size: float = 0.2, seed: int = 0) -> tuple[EHRTables, EHRTables]:
        """Split by patient (stratified by label): ``(train, test)``, each with its own events.

        A patient's events all go with the patient, so no patient is in both halves. Both halves
        keep this table's ``exclusions`` (they describe the check of the whole cohort).

        >>> train, test = ehr_example().split(test_size=1 / 3, seed=0)
        >>> len(train), len(test)
        (2, 1)
        """
        from sklearn.model_selection import train_test_split

        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size}.")
        ids = self.patients["patient_id"].to_numpy()
        labels = self.labels
        stratify = labels if np.bincount(labels, minlength=2).min() >= 2 else None
        try:
            train, test = train_test_split(
                ids, test_size=test_size, random_state=seed, stratify=stratify
            )
        except ValueError:  # too few patients per class for a stratified draw of this size
            train, test = train_test_split(ids, test_size=test_size, random_state=seed)
        return self.subset(train), self.subset(test)

    def summary(self) -> dict:
        """JSON-able figures: patients, positives, events per type, codes, exclusions."""
        per_type = self.events["code_type"].value_counts()
        return {
            "patients": int(len(self.patients)),
            "positives": int(self.labels.sum()),
            "positive_rate": float(self.labels.mean()) if len(self.patients) else 0.0,
            "events": {t: int(per_type.get(t, 0)) for t in CODE_TYPES},
            "codes": {t: int(v) for t, v in _codes_per_type(self).items()},
            "lookback_days": int(self.lookback_days),
            "n_windows": int(self.n_windows),
            "exclusions": {k: int(v) for k, v in self.exclusions.items()},
        }


def _codes_per_type(tables: EHRTables) -> dict[str, int]:
    types = list(tables.code_types.values())
    return {t: types.count(t) for t in CODE_TYPES}


def _positions(values, reference) -> np.ndarray:
    """Position of each value in ``reference`` (unique), -1 where absent; vectorised."""
    import pandas as pd

    ref = pd.Index(reference)
    return ref.get_indexer(pd.Index(values)).astype(np.int64)


def _windows(dates: np.ndarray, index_dates: np.ndarray, lookback_days: int, n_windows: int):
    """Window per event (see ``EHRTables.window_of``); -1 outside ``(index - L, index]`` or NaT."""
    offset = (dates - index_dates) / np.timedelta64(1, "D") + lookback_days  # in (0, L] inside
    with np.errstate(invalid="ignore"):
        window = np.ceil(offset * n_windows / lookback_days) - 1
        inside = (offset > 0) & (offset <= lookback_days)
    window = np.where(inside, window, -1)
    return np.clip(np.nan_to_num(window, nan=-1), -1, n_windows - 1).astype(np.int64)


def _read(source, what: str):
    """A DataFrame (copied) or a CSV/Parquet path read into one."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source.copy(), f"the {what} DataFrame"
    if isinstance(source, str | os.PathLike):
        from automl_kit.datasets._table import _read as read_table

        path = Path(os.fspath(source)).expanduser()
        return read_table(path), str(path)
    raise ValueError(
        f"{what} must be a pandas DataFrame or a CSV/Parquet path, got {type(source).__name__}."
    )


def _require(frame, columns, where: str, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where} lacks the column(s) {missing}; the {what} table needs {list(columns)} "
            f"(its columns are {[str(c) for c in frame.columns]}). Rename or add them."
        )


def _rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    return f"{rows.size} row(s), first rows {rows[:5].tolist()}{' ...' if rows.size > 5 else ''}"


def _dates(frame, column: str, where: str, date_format: str | None = None, dayfirst: bool = False):
    import pandas as pd

    values = frame[column]
    if values.isna().any():
        raise ValueError(
            f"{where}: column {column!r} has missing dates in {_rows(values.isna().to_numpy())}; "
            "fill or drop those rows."
        )
    if values.dtype.kind == "M":
        parsed = values
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parsed = pd.to_datetime(values, errors="coerce", format=date_format, dayfirst=dayfirst)
        for w in caught:  # pandas' own note that it read dates day-first: say it in our words
            if "dayfirst" in str(w.message):
                warnings.warn(
                    f"{where}: column {column!r} was read day-first (e.g. {values.iloc[0]!r} as "
                    f"{parsed.iloc[0]:%Y-%m-%d}); pass dayfirst=True or date_format= to confirm, "
                    "or write ISO dates such as 2019-04-30.",
                    DataWarning,
                    stacklevel=3,
                )
                break
    bad = parsed.isna().to_numpy()
    if bad.any():
        example = values[bad].iloc[0]
        if date_format is None and not dayfirst:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                as_day_first = pd.to_datetime(values, errors="coerce", dayfirst=True)
            if as_day_first.notna().all():
                raise ValueError(
                    f"{where}: column {column!r} reads as day-first dates only (e.g. "
                    f"{example!r} in {_rows(bad)}); pass dayfirst=True or "
                    "date_format='%d/%m/%Y', or write ISO dates such as 2019-04-30."
                )
        if date_format is None:
            # pandas infers one format from the first row; if the failures parse on their own,
            # the column mixes formats (e.g. one ISO row among US dates)
            alone = pd.to_datetime(values[bad], errors="coerce", format="mixed", dayfirst=dayfirst)
            if alone.notna().all():
                raise ValueError(
                    f"{where}: column {column!r} mixes date formats: {values.iloc[0]!r} (first "
                    f"row) and {example!r} ({_rows(bad)}); write every date in one format "
                    "(ISO 2019-04-30 is safest) or pass date_format= (e.g. '%m/%d/%Y') and "
                    "dayfirst=."
                )
        raise ValueError(
            f"{where}: column {column!r} has unparseable dates in {_rows(bad)} (e.g. "
            f"{example!r}); write them as ISO dates such as 2019-04-30"
            + (
                f" or fix date_format={date_format!r}."
                if date_format
                else ", or pass date_format=."
            )
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed.astype("datetime64[ns]")


def check_ehr_tables(
    events,
    patients,
    *,
    lookback_days: int,
    n_windows: int = 3,
    on_outside: str = "exclude",
    description: str = "",
    date_format: str | None = None,
    dayfirst: bool = False,
) -> EHRTables:
    """Check an event and a patient table and return them as :class:`EHRTables`.

    ``events`` and ``patients`` are pandas DataFrames or CSV/Parquet paths. Required columns:
    events ``patient_id, date, code, code_type`` (``code_type`` one of ``dx, px, rx``; a code
    keeps one type), patients ``patient_id, index_date, label`` (unique ids, labels 0/1), any
    further patient columns being demographics. Errors (``ValueError`` naming the rows and the
    fix): a missing column, an unknown code type, a missing code, a code with two types, a
    missing or duplicated patient id, a label not 0/1, a missing or unparseable date.

    Handled and counted in ``exclusions`` (with one ``DataWarning`` naming the counts):

    * events outside their patient's window ``(index_date - lookback_days, index_date]``
      (e.g. after the index date, which would leak the outcome): excluded with
      ``on_outside="exclude"``, an error with ``on_outside="raise"``;
    * events of patients not in the patient table: excluded (they have no label);
    * patients without events (after the exclusions): kept, their counts all zero.

    Dates: ``date_format`` (e.g. ``"%m/%d/%Y"``, for both tables) and ``dayfirst`` go to
    ``pandas.to_datetime``; without them the format is inferred from the first row, and a
    column mixing formats is an error naming both. An error also when no events remain, or
    when most events belong to no listed patient (the ids of the two tables do not match).

    If one table's ids are numbers and the other's text (as CSV files easily make them), both
    are compared as text. Events come back sorted by patient and date.

    >>> import pandas as pd
    >>> events = pd.DataFrame({"patient_id": [1, 1], "date": ["2019-12-10", "2020-03-01"],
    ...                        "code": ["dx:a", "rx:c"], "code_type": ["dx", "rx"]})
    >>> patients = pd.DataFrame({"patient_id": [1], "index_date": ["2020-03-01"], "label": [1]})
    >>> tables = check_ehr_tables(events, patients, lookback_days=90)  # 3 windows of 30 days
    >>> tables.counts()[0].tolist()  # dx:a in the first window, rx:c in the last
    [[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]
    """

    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int | np.integer):
        raise ValueError(f"lookback_days must be a positive int (days), got {lookback_days!r}.")
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be a positive int (days), got {lookback_days}.")
    if isinstance(n_windows, bool) or not isinstance(n_windows, int | np.integer) or n_windows < 1:
        raise ValueError(f"n_windows must be a positive int, got {n_windows!r}.")
    if lookback_days < n_windows:
        raise ValueError(
            f"lookback_days={lookback_days} is shorter than n_windows={n_windows}: windows would "
            "be shorter than a day, finer than the dates; use lookback_days >= n_windows."
        )
    if on_outside not in ("exclude", "raise"):
        raise ValueError(f"on_outside must be 'exclude' or 'raise', got {on_outside!r}.")
    events, ewhere = _read(events, "events")
    patients, pwhere = _read(patients, "patients")
    _require(events, EVENT_COLUMNS, ewhere, "event")
    _require(patients, PATIENT_COLUMNS, pwhere, "patient")
    events = events.reset_index(drop=True)
    patients = patients.reset_index(drop=True)
    if not len(patients):
        raise ValueError(
            f"{pwhere}: the patient table is empty; it needs one row per patient "
            "(patient_id, index_date, label)."
        )
    if not len(events):
        raise ValueError(
            f"{ewhere}: the event table is empty; it needs one row per diagnosis, procedure or "
            "prescription (patient_id, date, code, code_type)."
        )

    # ids
    for frame, where in ((events, ewhere), (patients, pwhere)):
        if frame["patient_id"].isna().any():
            raise ValueError(
                f"{where}: patient_id is missing in {_rows(frame['patient_id'].isna().to_numpy())};"
                " every row needs a patient id."
            )
    numeric = [f["patient_id"].dtype.kind in "iu" for f in (events, patients)]
    if numeric[0] != numeric[1]:
        events["patient_id"] = events["patient_id"].astype(str)
        patients["patient_id"] = patients["patient_id"].astype(str)
    duplicated = patients["patient_id"].duplicated(keep=False).to_numpy()
    if duplicated.any():
        ids = patients["patient_id"][duplicated].unique()[:5].tolist()
        raise ValueError(
            f"{pwhere}: patient ids are duplicated in {_rows(duplicated)} (ids {ids}); the "
            "patient table needs one row per patient: keep one index date and label each."
        )

    # labels
    label = patients["label"]
    ok = label.isin([0, 1]).to_numpy() & label.notna().to_numpy()
    if not ok.all():
        values = label[~ok].unique()[:5].tolist()
        raise ValueError(
            f"{pwhere}: labels must be 0 or 1; {_rows(~ok)} hold {values}. Map the outcome to "
            "1 (event) / 0 (no event)."
        )
    patients["label"] = label.astype(np.int64)

    # codes
    if events["code"].isna().any():
        raise ValueError(
            f"{ewhere}: code is missing in {_rows(events['code'].isna().to_numpy())}; drop those "
            "rows or give them a code."
        )
    events["code"] = events["code"].astype(str)
    types = events["code_type"]
    unknown = ~types.isin(CODE_TYPES).to_numpy()
    if unknown.any():
        values = sorted({str(v) for v in types[unknown].unique()})[:5]
        raise ValueError(
            f"{ewhere}: unknown code_type {values} in {_rows(unknown)}; code_type must be one of "
            f"{list(CODE_TYPES)} (diagnosis, procedure, prescription)."
        )
    per_code = events.groupby("code", sort=True)["code_type"].nunique()
    mixed = per_code.index[per_code.to_numpy() > 1].tolist()
    if mixed:
        raise ValueError(
            f"{ewhere}: code(s) {mixed[:5]} appear with more than one code_type; a code names one "
            "entity, so prefix codes by their type (e.g. 'dx:250.01', 'rx:insulin')."
        )

    events["date"] = _dates(events, "date", ewhere, date_format, dayfirst)
    patients["index_date"] = _dates(patients, "index_date", pwhere, date_format, dayfirst)

    exclusions: dict[str, int] = {}
    known = events["patient_id"].isin(patients["patient_id"]).to_numpy()
    if known.mean() < 0.5:
        # most events belong to no patient: the ids of the two tables do not match, and going
        # on would train on (almost) all-zero counts
        example_event = events["patient_id"][~known].iloc[0]
        example_patient = patients["patient_id"].iloc[0]
        raise ValueError(
            f"{int((~known).sum())} of {len(events)} events ({(~known).mean():.0%}) belong to no "
            f"patient of the patient table (e.g. event id {example_event!r}, patient id "
            f"{example_patient!r}): the patient ids of the two tables do not match. Check case, "
            "whitespace, leading zeros and number-vs-text ids, or drop the events of other "
            "patients first."
        )
    if not known.all():
        exclusions[UNKNOWN] = int((~known).sum())
        events = events[known].reset_index(drop=True)
    tables = EHRTables(
        events=events,
        patients=patients,
        lookback_days=int(lookback_days),
        n_windows=int(n_windows),
        description=description,
    )
    window = tables.window_of()
    outside = window < 0
    if outside.any():
        if on_outside == "raise":
            raise ValueError(
                f"{ewhere}: {_rows(outside)} lie outside their patient's window "
                f"(index_date - {lookback_days} days, index_date]; drop them, widen "
                "lookback_days, or pass on_outside='exclude' to exclude and count them."
            )
        exclusions[OUTSIDE] = int(outside.sum())
        events = events[~outside].reset_index(drop=True)
        if not len(events):
            raise ValueError(
                f"{ewhere}: all {int(outside.sum())} events lie outside their patient's window "
                f"(index_date - {lookback_days} days, index_date], so none remain; check the "
                "index dates and the date format, or widen lookback_days."
            )
    empty = ~patients["patient_id"].isin(events["patient_id"]).to_numpy()
    if empty.any():
        exclusions[EMPTY] = int(empty.sum())
    events = events.sort_values(["patient_id", "date", "code"], kind="stable").reset_index(
        drop=True
    )
    events = events[[*EVENT_COLUMNS, *[c for c in events.columns if c not in EVENT_COLUMNS]]]
    if exclusions:
        warnings.warn(
            "EHR tables: "
            + "; ".join(f"{v} {k}" for k, v in exclusions.items())
            + " (counted in EHRTables.exclusions and in summary()['exclusions']).",
            DataWarning,
            stacklevel=2,
        )
    return replace(tables, events=events, exclusions=exclusions)


def ehr_example() -> EHRTables:
    """A three-patient toy cohort (for examples and tests)."""
    import pandas as pd

    events = pd.DataFrame(
        {
            "patient_id": [1, 1, 1, 1, 2, 2, 3],
            "date": pd.to_datetime(
                [
                    "2020-01-05",
                    "2020-03-30",
                    "2020-03-30",
                    "2020-03-31",
                    "2020-02-15",
                    "2020-02-15",
                    "2020-01-02",
                ]
            ),
            "code": ["dx:a", "dx:a", "rx:c", "rx:c", "dx:a", "px:b", "px:b"],
            "code_type": ["dx", "dx", "rx", "rx", "dx", "px", "px"],
        }
    )
    patients = pd.DataFrame(
        {
            "patient_id": [1, 2, 3],
            "index_date": pd.to_datetime(["2020-03-31"] * 3),
            "label": [1, 0, 0],
            "age": [70, 55, 62],
            "sex": ["F", "M", "F"],
        }
    )
    return check_ehr_tables(events, patients, lookback_days=90, description="toy cohort")
