"""Per-epoch checkpoints of a ``model.fit`` run and resuming from them (``train --resume``).

Keras's own ``keras.callbacks.BackupAndRestore`` is the starting point but does not fit: it saves
model and optimizer weights only (``.weights.h5``), so a resumed run loses the caller's state (a
freezing policy's decisions and log) and the Dropout generators' positions (``SeedGenerator``
states are not saved with a model either), and ``fit``'s shuffling restarts from a fresh
generator. Here every epoch ends with, in this order:

1. ``checkpoint-<epoch>.keras``: model and optimizer state (written under a temporary name, then
   renamed: a crash leaves the old file or the new one; a full disk raises ``DiskFullError``);
2. ``checkpoint.json`` (the commit point, atomic): the epochs done, the ``History`` so far, the
   caller's state, the random-generator states and the name of the ``.keras`` file;
3. older ``checkpoint-*.keras`` files are deleted; then
4. :func:`automl_kit.utils.interrupt.raise_if_stop_requested`: Ctrl-C stops here, after saving.

With :class:`automl_kit.training.EpochBatches` for the batch order, a run resumed with
:func:`restore_checkpoint` ends with the same weights as an unbroken one (on the CPU).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import keras
import numpy as np

from automl_kit.utils.interrupt import raise_if_stop_requested
from automl_kit.utils.rundir import CorruptRunError, DiskFullError, RunDirectory

CHECKPOINT = "checkpoint.json"


def _generator_states(model: keras.Model) -> list:
    """State that ``model.save`` leaves out: SeedGenerator positions (Dropout masks)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.non_trainable_variables if id(v) not in weights]


class EpochCheckpoint(keras.callbacks.Callback):
    """Checkpoint ``model.fit`` into ``run`` after every epoch (see the module docstring).

    ``state()`` returns the caller's JSON-able state to save with each epoch; ``history`` is the
    per-epoch history of earlier, resumed epochs (continued here). Put it after callbacks whose
    end-of-epoch work belongs in the checkpoint (e.g. a ``FreezingCallback``).
    """

    def __init__(
        self,
        run: RunDirectory,
        state: Callable[[], dict] = dict,
        *,
        history: dict | None = None,
        config: dict | None = None,
    ):
        super().__init__()
        self.run, self.state, self.config = run, state, config or {}
        self.history: dict[str, list] = {k: list(v) for k, v in (history or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if np.ndim(value) == 0:
                self.history.setdefault(key, []).append(float(value))
        done = epoch + 1
        name = f"checkpoint-{done:04d}.keras"
        temporary = self.run.path(f"checkpoint-{done:04d}.tmp.keras")
        try:
            self.model.save(temporary)
            os.replace(temporary, self.run.path(name))
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            temporary.unlink(missing_ok=True)
            raise DiskFullError(
                f"could not write {temporary}: no space left on the device. Epochs up to "
                f"{epoch} are saved: free some space, then resume {self.run.root}."
            ) from None
        self.run.write_checkpoint(
            {
                "epoch": done,
                "model": name,
                "history": self.history,
                "config": self.config,
                "state": self.state(),
                "generators": [v.numpy().tolist() for v in _generator_states(self.model)],
            },
            name=CHECKPOINT,
        )
        for old in self.run.root.glob("checkpoint-*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)
        raise_if_stop_requested(f"after epoch {done} (checkpoint saved)")


def read_checkpoint(run: RunDirectory, config: dict | None = None) -> dict | None:
    """The last completed epoch's checkpoint in ``run``, or None if no epoch finished yet.

    With ``config``, a checkpoint saved under other settings (its ``config``) is refused,
    naming each changed setting.
    """
    if not run.has_checkpoint(CHECKPOINT):
        return None
    state, _ = run.read_checkpoint(CHECKPOINT)
    missing = {"epoch", "model", "history", "state", "generators"} - set(state)
    if missing or not (run.root / state["model"]).is_file():
        what = f"fields {sorted(missing)}" if missing else f"its model file {state['model']}"
        raise CorruptRunError(
            f"{run.root / CHECKPOINT} is corrupt (no {what}); resume cannot continue it: start "
            "the run again with overwrite, or restore the file."
        )
    saved = state.get("config", {})
    changed = [
        f"{key} {saved.get(key)!r} -> {value!r}"
        for key, value in (config or {}).items()
        if saved.get(key) != value
    ]
    if changed:
        raise ValueError(
            f"cannot resume {run.root}: {'; '.join(changed)}. Resume with the settings of the "
            "original run, or start a new run."
        )
    return state


def restore_checkpoint(model: keras.Model, run: RunDirectory, checkpoint: dict) -> None:
    """Put the checkpoint's weights, optimizer state and generator states into ``model``.

    ``model`` must be compiled, with the same architecture as the checkpointed one; its
    optimizer is built over its trainable variables (as the checkpointed one was).
    """
    path = run.root / checkpoint["model"]
    saved = keras.models.load_model(path)
    mismatch = ValueError(
        f"the checkpoint {path} does not match this model (different architecture or "
        "optimizer); resume with the model and optimizer of the original run, or start a new run."
    )
    if [w.shape for w in saved.get_weights()] != [w.shape for w in model.get_weights()]:
        raise mismatch
    model.set_weights(saved.get_weights())
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    ours, theirs = optimizer.variables, saved.optimizer.variables
    if type(optimizer) is not type(saved.optimizer) or [v.shape for v in ours] != [
        v.shape for v in theirs
    ]:
        raise mismatch
    for target, source in zip(ours, theirs):
        target.assign(source)
    states = _generator_states(model)
    if len(states) != len(checkpoint["generators"]):
        raise mismatch
    for variable, value in zip(states, checkpoint["generators"]):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def resumable_fit(
    model: keras.Model,
    x,
    y,
    run: RunDirectory,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    config: dict,
    resume: bool = False,
    get_state: Callable[[], dict] = dict,
    set_state: Callable[[dict], None] | None = None,
    callbacks=(),
    validation_data=None,
    verbose: int = 0,
    shuffle: bool = True,
    augmenter=None,
    sample_weight=None,
) -> tuple[dict, int]:
    """``model.fit`` over :class:`~automl_kit.training.EpochBatches`, checkpointed in ``run``
    after every epoch; the one resumable fit of every job that trains.

    ``config`` (with the epochs, batch size and sample count added) must match the saved one
    for ``resume=True`` to continue; ``get_state()`` is saved with each epoch and given back to
    ``set_state`` on resume, and the batch order's ``seed`` is saved too, so a resumed run
    ends as an unbroken one (on the CPU). Returns the whole history (earlier calls' epochs
    included) and the epoch this call started from (``epochs``: nothing was left to train).

    >>> import tempfile
    >>> from automl_kit.utils.rundir import RunDirectory
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    >>> with RunDirectory.claim(tempfile.mkdtemp() + "/run", "fit") as run:
    ...     history, start = resumable_fit(model, x, y, run, epochs=2, batch_size=4, seed=0,
    ...                                    config={})
    >>> len(history["loss"]), start
    (2, 0)
    """
    from automl_kit.training.batches import EpochBatches

    config = {**config, "epochs": int(epochs), "batch_size": int(batch_size), "samples": len(x)}
    checkpoint = read_checkpoint(run, config) if resume else None
    start, history = 0, {}
    if checkpoint is not None:
        restore_checkpoint(model, run, checkpoint)
        state = checkpoint["state"]
        seed = int(state.get("seed", seed))  # the saved run's batch order
        if set_state is not None:
            set_state(state)
        start, history = int(checkpoint["epoch"]), checkpoint["history"]
    seed = int(seed)
    saver = EpochCheckpoint(
        run, lambda: {**get_state(), "seed": seed}, history=history, config=config
    )
    if start < epochs:
        model.fit(
            EpochBatches(
                x,
                y,
                batch_size,
                seed=seed,
                epoch=start,
                shuffle=shuffle,
                augmenter=augmenter,
                sample_weight=sample_weight,
            ),  # fmt: skip
            epochs=epochs,
            initial_epoch=start,
            validation_data=validation_data,
            callbacks=[*callbacks, saver],
            verbose=verbose,
            shuffle=False,  # EpochBatches shuffles; Keras's batch shuffle would not resume
        )
    return saver.history, start
