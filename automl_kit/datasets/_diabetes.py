"""The UCI Diabetes 130-US hospitals readmission data as a numeric table.

Target: readmitted within 30 days (``readmitted == "<30"``, 11.2% positive).
Encoding (fitted on the training pool only, applied unchanged to the test set):

* counts (time in hospital, lab procedures, ...) and the age band: min-max scaled to [0, 1];
* ICD-9 diagnoses ``diag_1..3``: grouped into the nine chapters of Strack et al. (2014);
* every other categorical column: one-hot, missing values as their own ``<col>=missing``;
  ``medical_specialty`` keeps its 15 most frequent values plus ``other``;
* dropped: ``encounter_id`` (an identifier), ``weight`` (96.9% missing) and ``patient_nbr``,
  which only drives the splits: the test set holds 20% of the *patients* (seed 0), and
  ``load``'s validation draw from the pool takes whole patients too (``groups_*`` hold the
  patient ids), so no patient is in two splits. Nothing else is dropped; every encounter is
  kept, and ``index_*`` is its 0-based data row in the file.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from automl_kit.datasets._dataset import CorruptDataError, DatasetNotAvailableError
from automl_kit.datasets._sources import DATA_ENV, RawData, Source, missing_data_dir

NUMERIC = [
    "time_in_hospital",
    "num_lab_procedures",
    "num_procedures",
    "num_medications",
    "number_outpatient",
    "number_emergency",
    "number_inpatient",
    "number_diagnoses",
]
CODED = ["admission_type_id", "discharge_disposition_id", "admission_source_id"]
DIAGNOSES = ["diag_1", "diag_2", "diag_3"]
DROPPED = ["encounter_id", "patient_nbr", "weight", "readmitted"]
TOP_SPECIALTIES = 15


def icd9_group(code) -> str:
    """Chapter of an ICD-9 code as grouped by Strack et al. (2014), Table 2."""
    if not isinstance(code, str) or not code:
        return "missing"
    if code[0] in "EV":
        return "other"
    value = float(code)
    if int(value) == 250:
        return "diabetes"
    for name, ranges in (
        ("circulatory", [(390, 459), (785, 785)]),
        ("respiratory", [(460, 519), (786, 786)]),
        ("digestive", [(520, 579), (787, 787)]),
        ("injury", [(800, 999)]),
        ("musculoskeletal", [(710, 739)]),
        ("genitourinary", [(580, 629), (788, 788)]),
        ("neoplasms", [(140, 239)]),
    ):
        if any(lo <= int(value) <= hi for lo, hi in ranges):
            return name
    return "other"


class DiabetesSource(Source):
    name = "diabetes_130us"
    kind = "tabular"
    class_names = ("not readmitted <30d", "readmitted <30d")
    description = "UCI Diabetes 130-US hospitals, 30-day readmission (101,766 encounters)"
    relative_path = Path("diabetes_130us") / "diabetic_data.csv.gz"

    def locate(self, directory):
        if directory is not None and (directory / self.relative_path).is_file():
            return str(directory / self.relative_path)
        return None

    def read_frame(self, directory):
        """The UCI file as a DataFrame (``"?"`` -> NaN) and its path; clear errors if absent/corrupt."""
        import pandas as pd

        path = self.locate(directory)
        if path is None:
            problem = missing_data_dir(directory)
            raise DatasetNotAvailableError(
                (f"{problem[0].upper()}{problem[1:]}. " if problem else "")
                + f"Data set '{self.name}' has no download path. Place {self.relative_path} "
                f"(the UCI file diabetic_data.csv, gzipped) in {directory or 'a folder'} and set {DATA_ENV} to that folder."
            )
        # "None" in max_glu_serum/A1Cresult means "not measured": keep it as a category, not NaN.
        try:
            frame = pd.read_csv(
                path, na_values="?", keep_default_na=False, dtype={"payer_code": str}
            )
            missing = {"readmitted", "patient_nbr"} - set(frame.columns)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            # gzip.BadGzipFile (OSError), truncation (EOFError), parser and decoding errors
            raise CorruptDataError(
                f"{path} is corrupt: reading it failed ({type(exc).__name__}). Replace it with a "
                "fresh gzipped copy of the UCI file diabetic_data.csv."
            ) from None
        if missing:
            raise CorruptDataError(
                f"{path} lacks the columns {sorted(missing)}; it is not the UCI file "
                "diabetic_data.csv. Replace it with that file, gzipped."
            )
        return frame, path

    def read(self, directory, *, download):
        frame, path = self.read_frame(directory)
        y = (frame["readmitted"] == "<30").to_numpy(np.int64)

        from sklearn.model_selection import GroupShuffleSplit

        pool, test = next(
            GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(
                frame, y, frame["patient_nbr"]
            )
        )
        features = self._encode(frame, pool)
        names = tuple(features.columns)
        x = features.to_numpy(np.float32)
        groups = frame["patient_nbr"].to_numpy(np.int64)
        return RawData(
            x[pool],
            y[pool],
            x[test],
            y[test],
            path,
            names,
            index_pool=pool,
            index_test=test,
            groups_pool=groups[pool],
            groups_test=groups[test],
        )

    @staticmethod
    def _encode(frame, pool: np.ndarray):
        import pandas as pd

        frame = frame.copy()
        frame["age"] = frame["age"].str.extract(r"\[(\d+)-", expand=False).astype(float)
        for col in DIAGNOSES:
            frame[col] = frame[col].map(icd9_group)
        top = frame["medical_specialty"].iloc[pool].value_counts().index[:TOP_SPECIALTIES]
        frame["medical_specialty"] = frame["medical_specialty"].where(
            frame["medical_specialty"].isin(top) | frame["medical_specialty"].isna(), "other"
        )
        numeric = NUMERIC + ["age"]
        categorical = [c for c in frame.columns if c not in numeric + DROPPED]
        cats = frame[categorical].astype(str).where(frame[categorical].notna(), "missing")
        pool_cats = cats.iloc[pool]
        onehot = pd.get_dummies(pool_cats, prefix_sep="=").columns
        encoded = pd.get_dummies(cats, prefix_sep="=").reindex(columns=onehot, fill_value=False)
        nums = frame[numeric].astype(float)
        lo, hi = nums.iloc[pool].min(), nums.iloc[pool].max()
        scaled = ((nums - lo) / (hi - lo).replace(0, 1)).clip(0, 1)
        return pd.concat([scaled, encoded.astype(float)], axis=1)
