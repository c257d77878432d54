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
