"""Mini-batches in an order fixed by (seed, epoch), so a resumed run replays the unbroken one."""

from __future__ import annotations

import keras
import numpy as np


class EpochBatches(keras.utils.PyDataset):
    """``(x, y)`` in batches (``(x, y, weight)`` with ``sample_weight``), shuffled per epoch by
    ``default_rng([seed, epoch])``.

    ``model.fit(x, y, shuffle=True)`` draws each epoch's order from a generator that a restarted
    process cannot put back where it was; here epoch ``e``'s order depends on ``seed`` and ``e``
    only, so ``fit(EpochBatches(..., epoch=k), initial_epoch=k, shuffle=False)`` sees exactly the
    batches an unbroken run saw from epoch ``k`` on. Pass ``shuffle=False`` to ``fit``: with
    ``True`` Keras also shuffles the batch indices, from a generator that does not resume.

    The epoch advances in :meth:`on_epoch_begin` from the second call on: Keras 3.15 reads two
    batches to learn their shapes and calls ``on_epoch_end`` once before the first epoch, so
    counting ends would be off by one.

    >>> batches = EpochBatches(np.arange(10.0)[:, None], np.arange(10) % 2, 4, seed=0)
    >>> len(batches), batches[2][0].shape
    (3, (2, 1))
    """

    def __init__(
        self,
        x,
        y,
        batch_size: int,
        *,
        seed: int,
        epoch: int = 0,
        shuffle: bool = True,
        augmenter: keras.Sequential | None = None,
        sample_weight=None,
    ):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight, "float32")
        self.augmenter = augmenter
        self.seed, self.shuffle = int(seed), shuffle
        self.set_epoch(epoch)
        self._begun = False

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        n = len(self.x)
        self._order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(n)
            if self.shuffle
            else np.arange(n)
        )

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.x[rows]
        if self.augmenter is not None:
            from automl_kit.training.recipe import augment_batch

            seed = np.random.default_rng([self.seed, self.epoch, index]).integers(2**31)
            x = augment_batch(self.augmenter, x, seed)
        if self.sample_weight is None:
            return x, self.y[rows]
        return x, self.y[rows], self.sample_weight[rows]

    def on_epoch_begin(self) -> None:
        if self._begun:
            self.set_epoch(self.epoch + 1)
        self._begun = True
