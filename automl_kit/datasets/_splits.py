"""Seeded, class-aware subset selection.

Validation and test subsets are *stratified* (class proportions of the pool kept);
training subsets are *class-balanced* (counts as equal as the pool allows). With groups
(e.g. patients), validation and test subsets take whole groups, so no group is on both sides.
"""

from __future__ import annotations

import numpy as np


def _check_size(n: int, available: int, what: str) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}.")
    if n > available:
        raise ValueError(
            f"{what}={n} exceeds the {available} samples available; pass at most {available}."
        )


def balanced_quota(counts: np.ndarray, n: int) -> np.ndarray:
    """Per-class counts summing to ``n``, as equal as ``counts`` allow (water-filling)."""
    counts = np.asarray(counts, dtype=np.int64)
    quota = np.zeros_like(counts)
    remaining = int(n)
    for i, k in enumerate(np.argsort(counts, kind="stable")):
        share = remaining // (len(counts) - i)
        quota[k] = min(counts[k], share)
        remaining -= quota[k]
    # Floor division can leave a few samples over; give them to classes with room, largest room first.
    for k in np.argsort(quota - counts, kind="stable"):
        if remaining == 0:
            break
        extra = min(remaining, counts[k] - quota[k])
        quota[k] += extra
        remaining -= extra
    return quota


def stratified_quota(counts: np.ndarray, n: int) -> np.ndarray:
    """Per-class counts summing to ``n``, proportional to ``counts`` (largest remainder)."""
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts / counts.sum() * n
    quota = np.minimum(np.floor(exact).astype(np.int64), counts)
    for k in np.argsort(-(exact - quota), kind="stable"):
        if quota.sum() == n:
            break
        if quota[k] < counts[k]:
            quota[k] += 1
    return quota


def select(
    y: np.ndarray, n: int, rng: np.random.Generator, *, balanced: bool, what: str = "n"
) -> np.ndarray:
    """Indices of ``n`` samples of ``y`` drawn per class by quota, in random order."""
    _check_size(n, len(y), what)
    classes, counts = np.unique(y, return_counts=True)
    quota = balanced_quota(counts, n) if balanced else stratified_quota(counts, n)
    picked = [
        rng.choice(np.flatnonzero(y == c), q, replace=False) for c, q in zip(classes, quota) if q
    ]
    idx = np.concatenate(picked)
    rng.shuffle(idx)
    return idx


def select_grouped(
    y: np.ndarray, groups: np.ndarray, n: int, rng: np.random.Generator, *, what: str = "n"
) -> np.ndarray:
    """Indices of about ``n`` samples made of whole groups, stratified by class where possible.

    Groups are visited in random order and taken while every class stays within its
    stratified quota; a second pass fills what is left regardless of class. The result has
    ``n`` samples unless whole groups cannot add up to it (then a few fewer), in random order.
    """
    _check_size(n, len(y), what)
    groups = np.asarray(groups)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries for {len(y)} samples.")
    classes, y_codes = np.unique(y, return_inverse=True)
    quota = stratified_quota(np.bincount(y_codes), n)
    _, g_codes = np.unique(groups, return_inverse=True)
    n_groups = int(g_codes.max()) + 1
    per_group = np.zeros((n_groups, len(classes)), dtype=np.int64)
    np.add.at(per_group, (g_codes, y_codes), 1)
    sizes = per_group.sum(axis=1)
    order = rng.permutation(n_groups)
    taken = np.zeros(len(classes), dtype=np.int64)
    chosen = np.zeros(n_groups, dtype=bool)
    for strict in (True, False):
        for g in order:
            if chosen[g] or taken.sum() + sizes[g] > n:
                continue
            if strict and np.any(taken + per_group[g] > quota):
                continue
            chosen[g] = True
            taken += per_group[g]
            if taken.sum() == n:
                break
        if taken.sum() == n:
            break
    idx = np.flatnonzero(chosen[g_codes])
    if idx.size == 0:
        raise ValueError(
            f"{what}={n} is smaller than the smallest group ({int(sizes.min())} samples); "
            "pass a larger size."
        )
    rng.shuffle(idx)
    return idx


def split_pool(
    y_pool: np.ndarray,
    *,
    n_train: int | None,
    n_val: int | None,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices into the training pool; they never overlap.

    Validation is stratified (default: 10% of the pool) and, with ``groups``, made of whole
    groups so that no group is in both; training is class-balanced when ``n_train`` is given
    and otherwise everything the validation split left.
    """
    rng = np.random.default_rng(seed)
    k = len(np.unique(y_pool))
    if n_val is None:
        n_val = max(k, int(round(0.1 * len(y_pool))))
    if n_train is not None and isinstance(n_train, (int, np.integer)) and 0 < n_train < k:
        raise ValueError(
            f"n_train={n_train} is smaller than the {k} classes; every class needs a training "
            f"sample: pass n_train >= {k}."
        )
    if groups is None:
        val_idx = select(y_pool, n_val, rng, balanced=False, what="n_val")
    else:
        val_idx = select_grouped(y_pool, groups, n_val, rng, what="n_val")
    rest = np.setdiff1d(np.arange(len(y_pool)), val_idx)
    if n_train is None:
        train_idx = rng.permutation(rest)
    else:
        if isinstance(n_train, (int, np.integer)) and n_train > len(rest):
            # name the cause: the validation split took the rest of the pool
            raise ValueError(
                f"n_train={n_train} exceeds the {len(rest)} samples left for training: the "
                f"validation split takes {len(val_idx)} of the {len(y_pool)}; pass a smaller "
                f"n_val (--n-val) or n_train <= {len(rest)}."
            )
        train_idx = rest[select(y_pool[rest], n_train, rng, balanced=True, what="n_train")]
    return train_idx, val_idx
