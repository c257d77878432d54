"""Relations between diagnoses and treatments: Xiao's Eq. 5.1, P(rx | dx) = P(rx and dx) / P(dx).

Co-occurrence is counted over *baskets*: the same claim (patient and date, ``scope="claim"``),
the same patient-window (``scope="window"``, the default) or the same patient over the whole
look-back (``scope="patient"``). P(t | d) is the share of the baskets holding diagnosis ``d`` that
also hold treatment ``t`` (a procedure or a drug, as the thesis treats both as treatments).

>>> import pandas as pd
>>> events = pd.DataFrame({
...     "patient_id": [1, 1, 2, 2, 3],
...     "date": pd.to_datetime(["2020-01-01"] * 5),
...     "code": ["dx:a", "rx:x", "dx:a", "px:y", "dx:b"],
...     "code_type": ["dx", "rx", "dx", "px", "dx"]})
>>> conditional_probabilities(events, scope="claim")
      px:y  rx:x
dx:a   0.5   0.5
dx:b   0.0   0.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

SCOPES = ("claim", "window", "patient")
DIAGNOSIS = "dx"
TREATMENTS = ("px", "rx")
_COLUMNS = ("patient_id", "code", "code_type")


def _events_of(data) -> tuple[pd.DataFrame, object]:
    """The events DataFrame of ``data`` (an ``EHRTables`` or a DataFrame) and the tables or None."""
    from automl_kit.datasets import EHRTables

    if isinstance(data, pd.DataFrame):
        return data, None
    if isinstance(data, EHRTables):
        return data.events, data
    raise ValueError(
        f"conditional_probabilities takes an EHRTables (automl_kit.datasets.check_ehr_tables) or "
        f"an events DataFrame, got {type(data).__name__}; build the tables with check_ehr_tables."
    )


def conditional_probabilities(
    data, *, scope: str = "window", treatments: tuple[str, ...] = TREATMENTS
) -> pd.DataFrame:
    """P(treatment | diagnosis) of Eq. 5.1: rows are diagnosis codes, columns treatment codes.

    ``data`` is an ``EHRTables`` or an events DataFrame (``patient_id``, ``date``, ``code``,
    ``code_type``; ``scope="window"`` needs the tables, or a ``window`` column). Codes are sorted;
    a diagnosis or treatment seen in no basket does not appear.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose one of: {', '.join(SCOPES)}.")
    events, tables = _events_of(data)
    missing = [c for c in _COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(
            f"the events table lacks the column(s) {missing}; it needs patient_id, date, code, "
            "code_type (see automl_kit.datasets.check_ehr_tables)."
        )
    unknown = sorted(set(events["code_type"].unique()) - {DIAGNOSIS, *treatments})
    if unknown:
        raise ValueError(
            f"unknown code_type value(s) {unknown}; use 'dx' for diagnoses and one of "
            f"{list(treatments)} for treatments."
        )
    if scope == "claim":
        if "date" not in events.columns:
            raise ValueError("scope='claim' groups events by patient and date: add a date column.")
        keys = [events["patient_id"], events["date"]]
    elif scope == "window":
        if "window" in events.columns:
            window = events["window"].to_numpy()
        elif tables is not None:
            window = np.asarray(tables.window_of(events))
        else:
            raise ValueError(
                "scope='window' needs the time windows: pass the EHRTables, add a 'window' column, "
                "or use scope='claim' or 'patient'."
            )
        keys = [events["patient_id"], pd.Series(window, index=events.index)]
    else:
        keys = [events["patient_id"]]
    basket = (
        pd.MultiIndex.from_arrays(keys).factorize()[0]
        if len(keys) > 1
        else (pd.factorize(keys[0])[0])
    )
    is_dx = (events["code_type"] == DIAGNOSIS).to_numpy()
    is_tx = events["code_type"].isin(treatments).to_numpy()
    dx_codes = np.sort(events.loc[is_dx, "code"].unique())
    tx_codes = np.sort(events.loc[is_tx, "code"].unique())
    n_baskets = int(basket.max()) + 1 if len(basket) else 0

    def incidence(mask, codes):
        column = pd.Index(codes).get_indexer(events.loc[mask, "code"])
        ones = np.ones(int(mask.sum()), dtype=np.float64)
        m = sparse.csr_matrix((ones, (basket[mask], column)), shape=(n_baskets, len(codes)))
        m.data[:] = 1.0  # presence, not counts: a basket holds a code or not
        return m

    dx, tx = incidence(is_dx, dx_codes), incidence(is_tx, tx_codes)
    both = (dx.T @ tx).toarray()
    n_dx = np.asarray(dx.sum(axis=0)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n_dx[:, None] > 0, both / np.maximum(n_dx[:, None], 1), 0.0)
    return pd.DataFrame(p, index=pd.Index(dx_codes), columns=pd.Index(tx_codes))


__all__ = ["SCOPES", "conditional_probabilities"]
