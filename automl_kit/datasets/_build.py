"""From a pool (and optional validation and test sets) to a :class:`Dataset`.

One path for the built-in sets and for the user's own data, so splits, subsets, row indices,
groups and label checks behave the same whatever the data came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from automl_kit.datasets._dataset import Dataset
from automl_kit.datasets._splits import select, select_grouped, split_pool
from automl_kit.utils.validation import check_split_labels

logger = logging.getLogger("automl_kit.datasets")

#: Share of the pool drawn as a test set when the data comes without one.
TEST_FRACTION = 0.2
#: The drawn test set is fixed (not ``seed``), so every seed is scored on the same samples.
TEST_SEED = 0


@dataclass(frozen=True)
class Part:
    """Samples of one split with their source rows and (optional) groups."""

    x: np.ndarray
    y: np.ndarray
    index: np.ndarray | None = None
    groups: np.ndarray | None = None

    def __post_init__(self):
        if self.index is None:
            object.__setattr__(self, "index", np.arange(len(self.y), dtype=np.int64))

    def take(self, idx: np.ndarray) -> Part:
        groups = None if self.groups is None else self.groups[idx]
        return Part(self.x[idx], self.y[idx], self.index[idx], groups)


def _draw(part: Part, n: int, rng: np.random.Generator, what: str) -> np.ndarray:
    if part.groups is not None:
        return select_grouped(part.y, part.groups, n, rng, what=what)
    return select(part.y, n, rng, balanced=False, what=what)


def build(
    name: str,
    pool: Part,
    *,
    val: Part | None = None,
    test: Part | None = None,
    class_names: tuple[str, ...],
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    source: str = "",
    feature_names: tuple[str, ...] | None = None,
    files: tuple[str, ...] | None = None,
    test_fraction: float = TEST_FRACTION,
) -> Dataset:
    """Split and subset as :func:`automl_kit.datasets.load` documents, then check the labels.

    Without ``test`` a stratified (and, with groups, grouped) ``test_fraction`` of the pool
    becomes the test set, drawn with the fixed seed ``TEST_SEED``; ``source`` and a log
    message say so. Without ``val`` validation is drawn from the pool (``n_val``, default
    10%); a given ``val`` is kept, or subsampled to ``n_val``.
    """
    k = len(class_names)
    check_split_labels(
        pool.y,
        None if val is None else val.y,
        y_test=None if test is None else test.y,
        num_classes=k,
        class_names=class_names,
    )
    notes = []
    if test is None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
        n_drawn = max(k, int(round(test_fraction * len(pool.y))))
        test_idx = np.sort(
            _draw(pool, n_drawn, np.random.default_rng(TEST_SEED), "the drawn test set")
        )
        rest = np.setdiff1d(np.arange(len(pool.y)), test_idx)
        test, pool = pool.take(test_idx), pool.take(rest)
        how = "grouped, stratified" if pool.groups is not None else "stratified"
        note = (
            f"no test set given: drew {len(test_idx)} samples ({test_fraction:.0%}, {how}, "
            f"seed {TEST_SEED}) from the training data as the test set"
        )
        logger.info("%s: %s", name, note)
        notes.append(note)
    if val is None:
        train_idx, val_idx = split_pool(
            pool.y, n_train=n_train, n_val=n_val, seed=seed, groups=pool.groups
        )
        train, val = pool.take(train_idx), pool.take(val_idx)
    else:
        rng = np.random.default_rng(seed)
        train = pool
        if n_train is not None:
            train = pool.take(np.sort(select(pool.y, n_train, rng, balanced=True, what="n_train")))
        if n_val is not None:
            val = val.take(np.sort(select(val.y, n_val, rng, balanced=False, what="n_val")))
    if n_test is not None:
        test = test.take(
            np.sort(
                select(test.y, n_test, np.random.default_rng(seed), balanced=False, what="n_test")
            )
        )
    if n_train is not None and len(np.unique(train.y)) < k:
        check_split_labels(train.y, num_classes=k, class_names=class_names)
    return Dataset(
        name=name,
        x_train=train.x,
        y_train=train.y,
        x_val=val.x,
        y_val=val.y,
        x_test=test.x,
        y_test=test.y,
        class_names=tuple(class_names),
        source="; ".join([source, *notes]) if source else "; ".join(notes),
        feature_names=feature_names,
        index_train=train.index,
        index_val=val.index,
        index_test=test.index,
        groups_train=train.groups,
        groups_val=val.groups,
        groups_test=test.groups,
        files=files,
    )
