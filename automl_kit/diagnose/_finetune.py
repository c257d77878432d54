"""Guided transfer learning: the decks' fine-tuning recipe (seed 003, "Fine-tuning Steps").

1. put a head on the base; 2. freeze the base (``conv_base.trainable = False``); 3. train the
head; 4. unfreeze the last block of the base; 5. train it with the head at a small learning
rate; 6. while validation still improves, unfreeze the next block down and train again.

Freezing uses Keras ``trainable`` flags and a recompile per stage, not
:class:`automl_kit.training.TrainSteps`: each stage is a whole ``fit`` with its own learning
rate and early stopping, which is what Keras's ``trainable`` + ``compile`` is made for;
TrainSteps earns its keep when the trainable set changes step by step inside one loop
(freezing policies), which this recipe never does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_BLOCK = re.compile(r"^(block\d+|conv\d+_block\d+|stage\d+)[_/]")


def block_starts(base) -> list[str]:
    """Names of the first layer of each block of ``base``, top (output) block first.

    Blocks are read from Keras-application style names (``block5_conv1``,
    ``conv5_block3_1_conv``, ``stage4_...``); without such names each weighted layer is a block.
    """
    starts: dict[str, str] = {}
    for layer in base.layers:
        if not layer.weights:
            continue
        match = _BLOCK.match(layer.name)
        key = match.group(1) if match else layer.name
        starts.setdefault(key, layer.name)
    return list(reversed(list(starts.values())))


@dataclass
class FineTuneResult:
    """The fine-tuned model and one record per stage (trainable layers, rate, scores)."""

    model: Any
    stages: list[dict] = field(default_factory=list)
    best_stage: int = 0

    def summary(self) -> dict:
        return {
            "best_stage": self.best_stage,
            "best_val_accuracy": self.stages[self.best_stage]["best_val_accuracy"],
            "stages": self.stages,
        }

    def save(self, run_dir: str | os.PathLike) -> Path:
        """``fine_tune.json`` and ``model.keras`` in ``run_dir``."""
        from automl_kit.utils.rundir import RunDirectory

        run = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
        run.root.mkdir(parents=True, exist_ok=True)
        self.model.save(run.path("model.keras"))
        return run.write_json("fine_tune.json", self.summary())


def _freeze_base(base, start: str | None, train_batchnorm: bool, normalization) -> list[str]:
    """Base layers from ``start`` on trainable (BN kept frozen), the rest frozen; their names."""
    base.trainable = True  # a nested model's flag gates its layers': set it before theirs
    trainable = False
    names = []
    for layer in base.layers:
        if start is not None and layer.name == start:
            trainable = True
        on = trainable and (train_batchnorm or not isinstance(layer, normalization))
        layer.trainable = on
        if on and layer.weights:
            names.append(layer.name)
    if start is None:
        base.trainable = False
    return names


def fine_tune(
    base,
    head,
    data,
    stages: Sequence[str | int] | None = None,
    *,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    learning_rate_factor: float = 0.1,
    epochs: int = 10,
    patience: int = 2,
    batch_size: int = 32,
    train_batchnorm: bool = False,
    min_delta: float = 0.0,
    until_no_gain: bool = True,
    seed: int = 0,
    verbose: int = 0,
    run_dir: str | os.PathLike | None = None,
) -> FineTuneResult:
    """Train ``head`` on the frozen ``base``, then unfreeze the base block by block (seed 003).

    ``base``: a Keras model (any ``keras.applications`` model with weights you supply, or your
    own). ``head``: a layer/model applied to the base's output, or ``None`` for global average
    pooling + ``Dense(num_classes, softmax)``. ``data``: a Dataset or
    ``(x_train, y_train, x_val, y_val)``. ``stages``: where each fine-tuning stage starts
    unfreezing, as a base layer name (``"block5_conv1"``) or the number of weighted base
    layers (normalisation layers not counted) from the top; default :func:`block_starts` (one block more per stage).

    Stage 0 trains the head at ``learning_rate``; stage k >= 1 trains the head and the
    unfrozen top of the base at ``learning_rate * learning_rate_factor`` (the decks' "small learning
    rate"). Each stage stops early on validation accuracy (``patience``); the recipe stops at
    the first stage that does not beat the best before it, and the best weights are kept.
    ``until_no_gain=False`` runs every stage and still keeps the best weights.
    The base runs in inference mode (``training=False``), so its BatchNormalization statistics
    stay those of the supplied weights (Keras's transfer-learning guide).
    """
    import keras

    from automl_kit.diagnose._evaluate import as_splits
    from automl_kit.training.optimizers import optimizer as make_optimizer
    from automl_kit.training.units import NORMALIZATION

    if epochs < 1 or patience < 0 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1 and patience >= 0.")
    if not 0 < learning_rate_factor <= 1:
        raise ValueError(
            f"learning_rate_factor must be in (0, 1] (e.g. 0.1), got {learning_rate_factor}."
        )
    if not isinstance(base, keras.Model):
        raise ValueError(
            f"base must be a keras.Model (the convolutional base), got {type(base).__name__}."
        )
    splits = as_splits(data)
    num_classes = len(splits["class_names"])
    names = [layer.name for layer in base.layers]
    # normalisation layers stay frozen (train_batchnorm=False), so they do not count as layers here
    weighted = [
        layer.name
        for layer in base.layers
        if layer.weights and not isinstance(layer, NORMALIZATION)
    ]
    starts: list[str] = []
    for stage in block_starts(base) if stages is None else stages:
        if isinstance(stage, (int, np.integer)) and not isinstance(stage, bool):
            if not 1 <= stage <= len(weighted):
                raise ValueError(
                    f"stage {stage}: the base has {len(weighted)} weighted layers; give 1..{len(weighted)}."
                )
            starts.append(weighted[-int(stage)])
        elif isinstance(stage, str) and stage in names:
            starts.append(stage)
        else:
            raise ValueError(
                f"stage {stage!r} is neither a layer of the base nor a count of its top layers; "
                f"block starts of this base: {', '.join(block_starts(base)[:6])}."
            )
    order = [names.index(s) for s in starts]
    if order != sorted(order, reverse=True):
        raise ValueError(
            f"stages must unfreeze ever deeper (top block first), got {list(stages or [])}."
        )

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(tuple(base.input_shape[1:]))
    features = base(inputs, training=False)
    if head is None:
        x = features
        if len(x.shape) > 2:
            x = (
                keras.layers.GlobalAveragePooling2D()(x)
                if len(x.shape) == 4
                else keras.layers.Flatten()(x)
            )
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    else:
        outputs = head(features)
    model = keras.Model(inputs, outputs, name=f"{base.name}_fine_tuned")

    train = (splits["x_train"], splits["y_train"])
    val = (splits["x_val"], splits["y_val"])
    best_acc, best_weights, records = -np.inf, None, []
    for k, start in enumerate([None, *starts]):
        _freeze_base(base, start, train_batchnorm, NORMALIZATION)
        # what Keras will train, read back from the layers (not from our own bookkeeping)
        unfrozen = [layer.name for layer in base.layers if layer.trainable_weights]
        rate = learning_rate if k == 0 else learning_rate * learning_rate_factor
        model.compile(
            make_optimizer(optimizer, rate),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        stop = keras.callbacks.EarlyStopping(
            "val_accuracy", patience=patience, restore_best_weights=True, mode="max"
        )
        history = model.fit(
            *train,
            validation_data=val,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=[stop],
            verbose=2 if verbose > 1 else 0,
        )
        stage_best = float(max(history.history["val_accuracy"]))
        improved = stage_best > best_acc + min_delta
        records.append(
            {
                "stage": k,
                "unfrozen_from": start,
                "trainable_base_layers": unfrozen,
                "trainable_weights": len(model.trainable_weights),
                "learning_rate": rate,
                "epochs_run": len(history.history["val_accuracy"]),
                "best_val_accuracy": stage_best,
                "improved": bool(improved),
            }
        )
        if verbose:
            print(
                f"fine_tune stage {k}: {len(unfrozen)} base layers trainable, lr {rate:g}, "
                f"best val accuracy {stage_best:.4f}{'' if improved else ' (no gain: stop)'}",
                flush=True,
            )
        if improved:
            # (variable, value) pairs: restoring by identity cannot mix up the order
            best_acc = stage_best
            best_weights = [(v, np.array(v.numpy())) for v in model.weights]
        elif until_no_gain:
            break
    for variable, value in best_weights:
        variable.assign(value)
    best = max(i for i, r in enumerate(records) if r["improved"])
    # leave the flags as in the best stage, so that further training continues from there
    _freeze_base(base, records[best]["unfrozen_from"], train_batchnorm, NORMALIZATION)
    result = FineTuneResult(model, records, best)
    if run_dir is not None:
        result.save(run_dir)
    return result
