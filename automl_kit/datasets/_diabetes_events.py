"""The UCI Diabetes 130-US readmission data as EHR event/patient tables: ``diabetes_events``."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from automl_kit.datasets._dataset import CorruptDataError
from automl_kit.datasets._diabetes import (
    DIAGNOSES,
    NUMERIC,
    TOP_SPECIALTIES,
    DiabetesSource,
    icd9_group,
)
from automl_kit.datasets._ehr_tables import EHRTables, check_ehr_tables
from automl_kit.datasets._sources import data_dir as resolve_data_dir

#: The 23 drug columns (values No / Steady / Up / Down).
DRUGS = [
    "metformin",
    "repaglinide",
    "nateglinide",
    "chlorpropamide",
    "glimepiride",
    "acetohexamide",
    "glipizide",
    "glyburide",
    "tolbutamide",
    "pioglitazone",
    "rosiglitazone",
    "acarbose",
    "miglitol",
    "troglitazone",
    "tolazamide",
    "examide",
    "citoglipton",
    "insulin",
    "glyburide-metformin",
    "glipizide-metformin",
    "glimepiride-pioglitazone",
    "metformin-rosiglitazone",
    "metformin-pioglitazone",
]
#: Lab tests, as procedures when done (value "None" = not measured).
LABS = {"A1Cresult": "A1C", "max_glu_serum": "glucose"}
#: discharge_disposition_id values meaning death (11, 19, 20, 21) or hospice (13, 14): no
#: readmission is possible, so such index encounters are excluded (as Strack et al., 2014).
EXPIRED = (11, 13, 14, 19, 20, 21)
#: Pseudo index date of every patient: the file has no dates, only the encounter order.
INDEX_DATE = "2009-01-01"
#: Patient-table columns taken from the index encounter.
CATEGORICAL = [
    "race",
    "admission_type_id",
    "discharge_disposition_id",
    "admission_source_id",
    "payer_code",
    "medical_specialty",
    "change",
    "diabetesMed",
]
EXPIRED_KEY = "patients who died or went to hospice at the index encounter"
FUTURE_KEY = "encounters after the index encounter (future, not used)"
EARLY_KEY = "encounters before the window"


def icd9_category(code: str) -> str:
    """The three-character ICD-9 category, restoring the zeros the file drops ("8" -> "008").

    >>> icd9_category("250.83"), icd9_category("41"), icd9_category("V27"), icd9_category("E909")
    ('250', '041', 'V27', 'E909')
    """
    head = str(code).split(".")[0]
    return head.zfill(3) if head.isdigit() else head


def diabetes_events(
    data_dir: str | os.PathLike | None = None,
    *,
    index: str = "random",
    seed: int = 0,
    n_windows: int = 3,
    min_patients: int = 50,
) -> EHRTables:
    """One sample per patient of the UCI Diabetes 130-US data, as :class:`EHRTables`.

    Reads ``<data_dir>/diabetes_130us/diabetic_data.csv.gz`` (``data_dir`` defaults to
    ``$AUTOML_KIT_DATA``). Choices, each counted where it leaves something out:

    * **Time.** The file has no dates; a patient's encounters in ``encounter_id`` order give the
      time. ``n_windows`` consecutive encounters ending at the *index encounter* are the
      windows: the index encounter is the last window, the one before it the window before,
      and so on. Dates are pseudo-dates (index date ``2009-01-01`` for everyone, one day per
      encounter back, ``lookback_days = n_windows``) that only encode this order. Older
      encounters are excluded and counted (``"encounters before the window"``).
    * **Index encounter** (``index``): ``"random"`` (default) one encounter per patient drawn
      uniformly with ``seed``; ``"first"``; ``"last"`` (most history, but readmissions after a
      patient's last encounter are mostly outside the data, so its label is biased low: 4.5%
      positive against 11.2% over all encounters). Encounters after the index are future and
      never used (counted).
    * **Label**: ``readmitted == "<30"`` at the index encounter. Patients whose index encounter
      ended in death or hospice (``discharge_disposition_id`` in 11, 13, 14, 19, 20, 21) cannot
      be readmitted and are excluded with all their encounters (the patients are counted; the
      two encounter counts are of the kept patients).
    * **Entities** (events): diagnoses ``diag_1..3`` as ICD-9 three-character categories
      (``dx:250``, ``dx:V58``, ``dx:041`` for the file's ``41``; missing ``?`` gives no event); drug changes ``Up``/``Down``/
      ``Steady`` of the 23 drug columns as ``rx:<drug>:up|down|steady`` (``No`` gives no
      event); lab tests done as procedures ``px:A1C:>7|>8|Norm`` and ``px:glucose:>200|>300|
      Norm`` (``None`` = not measured, no event). A code used by fewer than ``min_patients``
      patients is pooled into ``dx:other:<chapter>`` (Strack et al.'s ICD-9 chapters),
      ``rx:other:<change>`` or ``px:other`` (the number pooled is in ``description``).
    * **Patients** (demographics of the index encounter): ``age`` (midpoint of the 10-year
      band), ``sex``, ``race``, the admission/discharge/source ids and ``payer_code`` as text,
      ``medical_specialty`` (its 15 most frequent values over all patients, else ``other``;
      frequencies only, no label), ``change``, ``diabetesMed``, the eight visit counts
      (``time_in_hospital`` ... ``number_diagnoses``) and ``prior_encounters`` (how many
      encounters the patient had before the index one, in the file).

    Split by patient with :meth:`EHRTables.split` (one sample per patient, so a patient never
    sits in two splits). ``weight`` (97% missing) is not used.

    >>> tables = diabetes_events()  # doctest: +SKIP
    >>> tables.summary()["patients"]  # doctest: +SKIP
    69769
    """
    import pandas as pd

    if index not in ("random", "first", "last"):
        raise ValueError(f"index must be 'random', 'first' or 'last', got {index!r}.")
    if isinstance(n_windows, bool) or not isinstance(n_windows, int) or n_windows < 1:
        raise ValueError(f"n_windows must be a positive int, got {n_windows!r}.")
    if isinstance(min_patients, bool) or not isinstance(min_patients, int) or min_patients < 1:
        raise ValueError(f"min_patients must be a positive int, got {min_patients!r}.")
    frame, path = DiabetesSource().read_frame(resolve_data_dir(data_dir))
    needed = ["encounter_id", *DIAGNOSES, *DRUGS, *LABS, "gender", "age", *NUMERIC, *CATEGORICAL]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise CorruptDataError(
            f"{path} lacks the columns {missing}; it is not the UCI file diabetic_data.csv. "
            "Replace it with that file, gzipped."
        )

    # time: encounter order within each patient, and the index encounter
    frame = frame.sort_values(["patient_nbr", "encounter_id"], kind="stable").reset_index(drop=True)
    rank = frame.groupby("patient_nbr", sort=False).cumcount().to_numpy()
    size = frame.groupby("patient_nbr", sort=False)["encounter_id"].transform("size").to_numpy()
    first_row = np.flatnonzero(rank == 0)
    n_enc = size[first_row]
    if index == "random":
        pick = np.floor(np.random.default_rng(seed).random(first_row.size) * n_enc).astype(int)
    else:
        pick = np.zeros_like(n_enc) if index == "first" else n_enc - 1
    index_rank = np.repeat(pick, n_enc)
    back = index_rank - rank  # encounters before the index (0 = the index encounter itself)
    # the three encounter counts are disjoint: an excluded patient's encounters all go with it
    expired = frame["discharge_disposition_id"].isin(EXPIRED).to_numpy() & (back == 0)
    dead = set(frame.loc[expired, "patient_nbr"])
    alive = ~frame["patient_nbr"].isin(dead).to_numpy()
    exclusions = {
        EXPIRED_KEY: len(dead),
        FUTURE_KEY: int(((back < 0) & alive).sum()),
        EARLY_KEY: int(((back >= n_windows) & alive).sum()),
    }
    used = (back >= 0) & (back < n_windows) & alive
    enc = frame[used].reset_index(drop=True)
    enc_back = back[used]
    index_day = np.datetime64(INDEX_DATE)
    enc_date = (index_day - enc_back.astype("timedelta64[D]")).astype("datetime64[ns]")

    # entities
    pieces = []
    for col in DIAGNOSES:
        value = enc[col]
        ok = value.notna().to_numpy()
        pieces.append(
            pd.DataFrame(
                {
                    "row": np.flatnonzero(ok),
                    "code": "dx:" + value[ok].map(icd9_category),
                    "pool": "dx:other:" + value[ok].map(icd9_group),
                    "code_type": "dx",
                }
            )
        )
    for col in DRUGS:
        value = enc[col]
        ok = value.isin(["Up", "Down", "Steady"]).to_numpy()
        change = value[ok].str.lower()
        pieces.append(
            pd.DataFrame(
                {
                    "row": np.flatnonzero(ok),
                    "code": f"rx:{col}:" + change,
                    "pool": "rx:other:" + change,
                    "code_type": "rx",
                }
            )
        )
    for col, name in LABS.items():
        value = enc[col]
        ok = (value.notna() & (value.astype(str) != "None")).to_numpy()
        pieces.append(
            pd.DataFrame(
                {
                    "row": np.flatnonzero(ok),
                    "code": f"px:{name}:" + value[ok].astype(str),
                    "pool": "px:other",
                    "code_type": "px",
                }
            )
        )
    ev = pd.concat(pieces, ignore_index=True)
    ev["patient_id"] = enc["patient_nbr"].to_numpy()[ev["row"].to_numpy()]
    users = ev.drop_duplicates(["code", "patient_id"])["code"].value_counts()
    rare = ev["code"].map(users).to_numpy() < min_patients
    n_rare_codes = int((users < min_patients).sum())
    ev["code"] = np.where(rare, ev["pool"], ev["code"])
    events = pd.DataFrame(
        {
            "patient_id": ev["patient_id"].to_numpy(),
            "date": enc_date[ev["row"].to_numpy()],
            "code": ev["code"].to_numpy(),
            "code_type": ev["code_type"].to_numpy(),
        }
    )

    # patients, from their index encounters
    idx = enc[enc_back == 0].reset_index(drop=True)
    specialty = idx["medical_specialty"]
    top = specialty.value_counts().index[:TOP_SPECIALTIES]
    patients = pd.DataFrame(
        {
            "patient_id": idx["patient_nbr"].to_numpy(),
            "index_date": np.full(len(idx), index_day).astype("datetime64[ns]"),
            "label": (idx["readmitted"] == "<30").to_numpy(np.int64),
            "age": idx["age"].str.extract(r"\[(\d+)-", expand=False).astype(float) + 5.0,
            "sex": idx["gender"].astype(str),
        }
    )
    for col in CATEGORICAL:
        values = (
            specialty.where(specialty.isin(top) | specialty.isna(), "other")
            if (col == "medical_specialty")
            else idx[col]
        )
        patients[col] = values.astype(str).where(values.notna(), "missing").to_numpy()
    for col in NUMERIC:
        patients[col] = idx[col].to_numpy(float)
    patients["prior_encounters"] = index_rank[used][enc_back == 0].astype(float)

    tables = check_ehr_tables(
        events,
        patients,
        lookback_days=n_windows,
        n_windows=n_windows,
        on_outside="raise",
        description=(
            f"UCI Diabetes 130-US ({path}): one sample per patient, index encounter '{index}' "
            f"(seed {seed}), label readmitted <30 days; {n_windows} windows = the last "
            f"{n_windows} encounters up to the index; {n_rare_codes} codes used by fewer than "
            f"{min_patients} patients pooled into other:<group> codes"
        ),
    )
    return replace(tables, exclusions={**exclusions, **tables.exclusions})
