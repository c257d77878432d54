"""The user's own table: ``from_table`` (CSV, TSV, Parquet or a pandas DataFrame)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from automl_kit.datasets._build import TEST_FRACTION, Part, build
from automl_kit.datasets._dataset import CorruptDataError, Dataset, DatasetNotAvailableError
from automl_kit.utils.validation import check_features

#: Text columns with more distinct values than this are refused rather than one-hot encoded.
MAX_CATEGORIES = 50


def _read(path: Path):
    import pandas as pd

    if not path.is_file():
        raise DatasetNotAvailableError(f"{path} does not exist or is not a file.")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            try:
                return pd.read_parquet(path)
            except ImportError as exc:
                raise ValueError(
                    f"reading {path} needs a Parquet engine: pip install pyarrow "
                    "(or save the table as CSV)."
                ) from exc
        sep = "\t" if name.endswith((".tsv", ".tsv.gz")) else ","
        return pd.read_csv(path, sep=sep)
    except ValueError as exc:
        if "Parquet engine" in str(exc):
            raise
        raise CorruptDataError(
            f"{path} could not be parsed as a table ({type(exc).__name__}: {exc}); check that it "
            "is a well-formed CSV/Parquet file, or replace it with a fresh copy."
        ) from None
    except (OSError, EOFError) as exc:
        raise CorruptDataError(
            f"{path} is corrupt or unreadable ({type(exc).__name__}); replace it with a fresh copy."
        ) from None


def from_table(
    path_or_frame,
    *,
    label: str,
    group: str | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
    max_categories: int = MAX_CATEGORIES,
    name: str | None = None,
) -> Dataset:
    """A table with a label column as a :class:`Dataset` (``kind == "tabular"``).

    ``path_or_frame``: a ``.csv``/``.tsv`` (optionally ``.gz``) or ``.parquet`` file, or a
    pandas DataFrame. ``label`` names the class column; its values (text or numbers) map to
    0..K-1 in sorted order and ``class_names`` keeps them as text. ``group`` (optional) names
    an id column (e.g. a patient) that keeps a group on one side of every split; it is not a
    feature. Encoding: numeric and boolean columns are kept as they are (a
    :class:`~automl_kit.utils.validation.DataWarning` suggests standardising wildly scaled
    ones); text columns are one-hot encoded as ``<column>=<value>`` (missing text as
    ``<column>=missing``), refused with an error naming them above ``max_categories`` values;
    missing numbers are an error naming the columns. The test set is a stratified
    ``test_fraction`` of the rows (fixed seed 0), validation a draw from the rest, and
    ``index_<split>`` the 0-based data row of each sample.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"size": range(40), "colour": ["red", "blue"] * 20,
    ...                       "kind": ["cat", "dog", "dog", "cat"] * 10})
    >>> data = from_table(frame, label="kind")
    >>> data.class_names, data.feature_names
    (('cat', 'dog'), ('size', 'colour=blue', 'colour=red'))
    """
    import pandas as pd

    if isinstance(path_or_frame, pd.DataFrame):
        frame, where = path_or_frame, "the DataFrame"
        default_name = "table"
    else:
        path = Path(os.fspath(path_or_frame)).expanduser()
        frame, where = _read(path), str(path)
        default_name = path.name.split(".")[0]
    frame = frame.reset_index(drop=True)
    for role, column in (("label", label), ("group", group)):
        if column is not None and column not in frame.columns:
            raise ValueError(
                f"{role} column {column!r} is not in {where}; its columns are "
                f"{[str(c) for c in frame.columns]}."
            )
    target = frame[label]
    if target.isna().any():
        rows = np.flatnonzero(target.isna().to_numpy())
        raise ValueError(
            f"the label column {label!r} has {rows.size} missing value(s) (rows "
            f"{rows[:5].tolist()}{', ...' if rows.size > 5 else ''}); drop those rows first."
        )
    values = target.to_numpy()
    if values.dtype.kind not in "iufb":
        values = values.astype(str)
    classes, y = np.unique(values, return_inverse=True)
    groups = None if group is None else frame[group].to_numpy()
    features = frame.drop(columns=[c for c in (label, group) if c is not None])
    if features.shape[1] == 0:
        raise ValueError(f"{where} has no feature columns besides the label {label!r}.")
    x, feature_names = _encode(features, max_categories, where)
    return build(
        name or default_name,
        Part(x, y.astype(np.int64), None, groups),
        class_names=tuple(str(c) for c in classes),
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
        source=f"{where} (label {label!r}{f', groups {group!r}' if group else ''})",
        feature_names=feature_names,
        test_fraction=test_fraction,
    )


def _encode(features, max_categories: int, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [c for c in features.columns if is_numeric_dtype(features[c])]
    text = [c for c in features.columns if c not in numeric]
    gaps = [str(c) for c in numeric if features[c].isna().any()]
    if gaps:
        raise ValueError(
            f"numeric columns {gaps} of {where} have missing values; impute them (e.g. with the "
            "training median) or drop those rows or columns first."
        )
    too_many = {
        str(c): int(features[c].nunique()) for c in text if features[c].nunique() > max_categories
    }
    if too_many:
        raise ValueError(
            f"text columns {too_many} (distinct values) of {where} have more than "
            f"{max_categories} values to one-hot encode; drop them (identifiers, free text), "
            "encode them yourself, or raise max_categories."
        )
    encoded = features.copy()
    for c in numeric:
        if is_bool_dtype(encoded[c]):
            encoded[c] = encoded[c].astype(np.float32)
    if text:
        cats = encoded[text].astype(str).where(encoded[text].notna(), "missing")
        dummies = pd.get_dummies(cats, prefix_sep="=").astype(np.float32)
        encoded = pd.concat([encoded[numeric], dummies], axis=1)
    names = tuple(str(c) for c in encoded.columns)
    # the warnings name the table's columns, not their positions after encoding
    x = check_features(
        encoded.to_numpy(np.float32), name=f"features of {where}", rank=2, feature_names=names
    )
    return x, names
