"""A simulated claims cohort in the shape of Xiao's CLL data (thesis Part 5.3.1): ``ehr_cohort``.

The thesis's data (IQVIA claims of CLL patients; the outcome is starting the next line of
treatment, about 3% positive) is proprietary, so this simulator produces tables of the same shape,
with a generative story in which *related* diagnosis/treatment pairs and their *trend over the
windows* drive the outcome. See :func:`ehr_cohort`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from automl_kit.datasets._ehr_tables import EHRTables, check_ehr_tables

#: Observation window and its parts, as the thesis's cohorts (about a year in three intervals).
LOOKBACK_DAYS = 360
N_WINDOWS = 3
#: Effect (log-odds) of one active driver pattern on the outcome.
DRIVER_EFFECT = 0.6


def _zipf(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Long-tailed weights (rank^-exponent) in a random order, summing to one."""
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(w / w.sum())


def _draw(groups: np.ndarray, u: np.ndarray, cum: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Draw one member per event from its group's distribution, all events at once.

    ``cum`` concatenates each group's cumulative weights shifted by the group number (group g's
    lie in (g, g + 1]), so ``searchsorted(cum, g + u)`` finds the member inside group g.
    """
    pos = np.searchsorted(cum, groups + u, side="left")
    return np.minimum(pos, np.r_[start[1:], len(cum)][groups] - 1)


def _grouped_cumulative(members: list[np.ndarray], weights: list[np.ndarray]):
    cum = np.concatenate([g + np.cumsum(w / w.sum()) for g, w in enumerate(weights)])
    start = np.cumsum([0] + [len(m) for m in members])[:-1]
    return cum, start, np.concatenate(members)


def ehr_cohort(
    n_patients: int = 20000,
    n_dx: int = 60,
    n_px: int = 20,
    n_rx: int = 40,
    positive_rate: float = 0.03,
    seed: int = 0,
    *,
    n_conditions: int | None = None,
    n_drivers: int | None = None,
) -> EHRTables:
    """A simulated cohort whose outcome needs *related* codes and their *trend*: ``EHRTables``.

    Generative story (every draw from ``numpy.random.default_rng(seed)``, so the same seed gives
    the same tables):

    1. **Codes and conditions.** ``n_conditions`` latent conditions (default ``max(3, n_dx //
       8)``) each own a block of diagnosis codes ``dx:Dnnn``. Condition 0 is the index disease
       every patient has (CLL in the thesis). Each treatment (``px:Pnnn``, ``rx:Rnnn``) has one
       indication, a diagnosis; half the treatments are *first-line* (given with a fixed
       probability when their diagnosis is coded), half *escalations* (given more often the
       more severe the condition). Code use is long-tailed: condition prevalence, the diagnosis
       mix inside a condition and the treatment probabilities follow Zipf-like laws.
    2. **Patients.** Age ~ N(66, 11) in [30, 95], sex F/M; conditions other than the index
       disease are present with their prevalence (older patients a little more often). Each
       present condition has a severity that changes linearly over the three windows with a
       patient-specific slope (a shared progression factor plus noise).
    3. **Events.** In every window each present condition yields a Poisson number of diagnosis
       events (rate grows with severity), coded by the condition's long-tailed mix; each
       diagnosis event triggers its treatments on the same date (the same claim) with the
       probabilities of step 1. Background noise: unrelated diagnoses and prescriptions at a
       low rate. Dates are uniform inside their window; the window is the 360 days up to the
       patient's index date (spread over 2019), in three 120-day parts.
    4. **Outcome** (starting the next line of treatment). The driver pairs are (indication,
       escalation treatment): every escalation treatment by default, the ``n_drivers`` most
       used ones if given. A pair is *active* when (a) both codes occur in the last window and
       their joint count rises from the first window to the last (the disease and its
       treatment escalate), or (b) the treatment occurred in the first two windows, stopped in
       the last, while the diagnosis goes on (a failed line of treatment). The log-odds is
       ``b + 0.6 * (active pairs) + 0.6 * progression + 0.01 * (age - 66)``, with ``b`` set by
       bisection so that the mean risk is ``positive_rate``; the label is a Bernoulli draw.

    So the signal sits in *local combinations* (a diagnosis with its own treatment) and their
    *change across windows* (channels), and the *same* rule applies to many pairs, each adding
    a little: an image that puts each treatment next to its diagnosis lets one 3x3 convolution
    over the three channels detect the rule wherever it occurs, while a tree on the flat counts
    must assemble it from four or more split variables separately for every pair (and still
    sees the severity trends the codes share). ``truth`` records the structure:
    ``condition_of`` (dx code -> condition), ``indication`` (treatment -> dx code),
    ``escalation`` (treatment -> bool), ``drivers`` (list of [dx, treatment]), ``active``
    (n_patients x n_drivers 0/1), ``risk`` (the true probabilities).

    >>> tables = ehr_cohort(2000, seed=0)
    >>> len(tables), tables.n_windows, round(float(tables.labels.mean()), 2)
    (2000, 3, 0.03)
    """
    import pandas as pd

    for name, value, low in (
        ("n_patients", n_patients, 1),
        ("n_dx", n_dx, 2),
        ("n_px", n_px, 0),
        ("n_rx", n_rx, 0),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    if n_px + n_rx < 1:
        raise ValueError("n_px + n_rx must be at least 1: the outcome needs treatments.")
    if not 0.0 < positive_rate < 0.5:
        raise ValueError(f"positive_rate must be in (0, 0.5), got {positive_rate}.")
    n_cond = max(3, n_dx // 8) if n_conditions is None else int(n_conditions)
    if not 1 <= n_cond <= n_dx:
        raise ValueError(f"n_conditions must be in [1, n_dx={n_dx}], got {n_conditions}.")
    n_treat = n_px + n_rx
    n_drv = n_treat if n_drivers is None else int(n_drivers)  # capped at the escalations
    if not 1 <= n_drv:
        raise ValueError(f"n_drivers must be at least 1, got {n_drivers}.")

    rng = np.random.default_rng(seed)
    n, w_count = int(n_patients), N_WINDOWS

    # 1. codes, conditions, indications
    dx_codes = np.array([f"dx:D{i:03d}" for i in range(n_dx)])
    tr_codes = np.array(
        [f"px:P{i:03d}" for i in range(n_px)] + [f"rx:R{i:03d}" for i in range(n_rx)]
    )
    tr_types = np.array(["px"] * n_px + ["rx"] * n_rx)
    condition_of = np.sort(rng.permutation(np.arange(n_dx) % n_cond))  # contiguous blocks
    members = [np.flatnonzero(condition_of == c) for c in range(n_cond)]
    mix = [_zipf(len(m), 1.1, rng) for m in members]
    cum_dx, start_dx, order_dx = _grouped_cumulative(members, mix)
    prevalence = np.r_[1.0, 0.45 / np.arange(1, n_cond) ** 0.7]
    # indications: common diagnoses get treatments more often (long tail of treated codes)
    dx_weight = np.zeros(n_dx)
    for m, w in zip(members, mix):
        dx_weight[m] = w * prevalence[condition_of[m[0]]]
    indication = rng.choice(n_dx, size=n_treat, p=dx_weight / dx_weight.sum())
    escalation = rng.permutation(np.arange(n_treat) % 2 == 1)
    tail = _zipf(n_treat, 1.0, rng)
    first_line_p = 0.15 + 0.6 * tail / tail.max()

    # 2. patients
    age = np.clip(rng.normal(66.0, 11.0, n), 30, 95).round()
    sex = np.where(rng.random(n) < 0.45, "F", "M")
    older = (age - 66.0) / 11.0
    present = rng.random((n, n_cond)) < np.clip(prevalence * (1 + 0.15 * older[:, None]), 0, 1)
    present[:, 0] = True
    progression = rng.normal(0.0, 1.0, n)
    slope = 0.35 * progression[:, None] + rng.normal(0.0, 0.25, (n, n_cond))
    level = rng.normal(0.0, 0.5, (n, n_cond))
    windows = np.arange(w_count) - (w_count - 1) / 2
    severity = level[:, :, None] + slope[:, :, None] * windows  # (n, cond, window)

    # 3. events: condition diagnoses, their treatments, background noise
    rate = np.where(present[:, :, None], 1.2 * np.exp(0.8 * severity), 0.0)
    n_events = rng.poisson(rate)
    # cohort entry: everyone has the index disease coded at least once (the thesis's cohorts
    # are patients diagnosed before the interval), so no patient is without events
    n_events[:, 0, 0] += n_events[:, 0].sum(axis=1) == 0
    flat = np.repeat(np.arange(n_events.size), n_events.ravel())
    pat, cond, win = np.unravel_index(flat, n_events.shape)
    dx = order_dx[_draw(cond, rng.random(flat.size), cum_dx, start_dx)]
    noise_n = rng.poisson(0.4, (n, w_count))
    noise_pw = np.repeat(np.arange(noise_n.size), noise_n.ravel())
    npat, nwin = np.unravel_index(noise_pw, noise_n.shape)
    ndx = rng.choice(n_dx, size=noise_pw.size, p=dx_weight / dx_weight.sum())
    pat, win, dx = np.r_[pat, npat], np.r_[win, nwin], np.r_[dx, ndx]
    sev = np.where(present[pat, condition_of[dx]], severity[pat, condition_of[dx], win], -2.0)
    day = win * (LOOKBACK_DAYS // w_count) + rng.integers(1, LOOKBACK_DAYS // w_count + 1, dx.size)

    # treatments of each diagnosis event, on the same day (one claim)
    by_dx = np.argsort(indication, kind="stable")
    n_children = np.bincount(indication, minlength=n_dx)
    first_child = np.r_[0, np.cumsum(n_children)[:-1]]
    k = n_children[dx]
    parent = np.repeat(np.arange(dx.size), k)
    rank_in = np.arange(parent.size) - np.repeat(np.cumsum(k) - k, k)
    child = by_dx[first_child[dx[parent]] + rank_in]
    p_child = np.where(
        escalation[child],
        1.0 / (1.0 + np.exp(-2.5 * (sev[parent] - 0.6))),
        first_line_p[child],
    )
    given = rng.random(parent.size) < p_child
    tr_pat, tr_win, tr_day, tr = (
        pat[parent][given],
        win[parent][given],
        day[parent][given],
        child[given],
    )
    bg_n = rng.poisson(0.25, (n, w_count))
    bg = np.repeat(np.arange(bg_n.size), bg_n.ravel())
    bpat, bwin = np.unravel_index(bg, bg_n.shape)
    btr = rng.choice(n_treat, size=bg.size, p=_zipf(n_treat, 1.2, rng))
    bday = bwin * (LOOKBACK_DAYS // w_count) + rng.integers(
        1, LOOKBACK_DAYS // w_count + 1, bg.size
    )

    all_pat = np.r_[pat, tr_pat, bpat]
    all_day = np.r_[day, tr_day, bday]
    all_code = np.r_[dx_codes[dx], tr_codes[tr], tr_codes[btr]]
    all_type = np.r_[np.full(dx.size, "dx"), tr_types[tr], tr_types[btr]]
    index_date = np.datetime64("2019-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
    start = index_date - np.timedelta64(LOOKBACK_DAYS, "D")
    events = pd.DataFrame(
        {
            "patient_id": all_pat,
            "date": (start[all_pat] + all_day.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "code": all_code,
            "code_type": all_type,
        }
    )

    # 4. outcome from driver pairs over the per-window counts
    counts = np.zeros((n, n_dx + n_treat, w_count), np.float32)
    np.add.at(counts, (pat, dx, win), 1.0)
    np.add.at(counts, (tr_pat, n_dx + tr, tr_win), 1.0)
    np.add.at(counts, (bpat, n_dx + btr, bwin), 1.0)
    esc = np.flatnonzero(escalation)
    pool = esc if esc.size else np.arange(n_treat)
    # drivers: the escalation treatments, most used first (``n_drivers`` keeps the best
    # supported patterns), one per diagnosis first so few drivers spread over the layout
    ranked = pool[np.argsort(-counts[:, n_dx + pool].sum(axis=(0, 2)), kind="stable")]
    seen, first, rest = set(), [], []
    for t in ranked:
        (rest if indication[t] in seen else first).append(t)
        seen.add(indication[t])
    drivers_t = (first + rest)[: min(n_drv, pool.size)]
    drivers = [(int(indication[t]), int(t)) for t in drivers_t]
    active = np.zeros((n, len(drivers)), np.int8)
    for j, (d, t) in enumerate(drivers):
        cd, ct = counts[:, d], counts[:, n_dx + t]
        both_last = (cd[:, -1] > 0) & (ct[:, -1] > 0)
        rising = (cd[:, -1] + ct[:, -1]) > (cd[:, 0] + ct[:, 0])
        stopped = (ct[:, :-1].sum(axis=1) > 0) & (ct[:, -1] == 0) & (cd[:, -1] > 0)
        active[:, j] = (both_last & rising) | stopped
    logit = DRIVER_EFFECT * active.sum(axis=1) + 0.6 * progression + 0.01 * (age - 66.0)
    lo, hi = -30.0, 30.0
    for _ in range(60):  # bisection: mean risk = positive_rate
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logit + mid)))).mean() > positive_rate:
            hi = mid
        else:
            lo = mid
    risk = 1 / (1 + np.exp(-(logit + (lo + hi) / 2)))
    label = (rng.random(n) < risk).astype(np.int64)

    patients = pd.DataFrame(
        {
            "patient_id": np.arange(n),
            "index_date": index_date.astype("datetime64[ns]"),
            "label": label,
            "age": age,
            "sex": sex,
        }
    )
    truth = {
        "condition_of": {str(dx_codes[i]): int(condition_of[i]) for i in range(n_dx)},
        "indication": {str(tr_codes[t]): str(dx_codes[indication[t]]) for t in range(n_treat)},
        "escalation": {str(tr_codes[t]): bool(escalation[t]) for t in range(n_treat)},
        "drivers": [[str(dx_codes[d]), str(tr_codes[t])] for d, t in drivers],
        "active": active,
        "risk": risk,
    }
    tables = check_ehr_tables(
        events,
        patients,
        lookback_days=LOOKBACK_DAYS,
        n_windows=N_WINDOWS,
        on_outside="raise",
        description=(
            f"simulated cohort (ehr_cohort seed={seed}): {n} patients, {n_dx} dx, {n_px} px, "
            f"{n_rx} rx codes, {n_cond} latent conditions, {len(drivers)} driver pairs"
        ),
    )
    return replace(tables, truth=truth)
