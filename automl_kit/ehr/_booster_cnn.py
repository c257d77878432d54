"""The booster's CNN: its network, its training (Eq. 5.2 overlay balancing, early stopping on
validation AUPRC) and its scores; :class:`~automl_kit.ehr.booster.CNNBoostedClassifier` calls
these with its parameters."""

from __future__ import annotations

import numpy as np

from automl_kit.ehr.augment import overlay_augment

_SCORE_BATCH = 256


def build_cnn(input_shape: tuple[int, ...], filters: int):
    """Two 3x3 convolutions (neighbouring codes, all windows), a pooling step on grids of 4+
    cells a side, and a small dense head with a sigmoid output.

    >>> build_cnn((6, 6, 3), 4).output_shape
    (None, 1)
    """
    import keras
    from keras import layers

    rows, cols = input_shape[:2]
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    if min(rows, cols) >= 4:
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="ehr_cnn")


def train_cnn(
    images: np.ndarray,
    target: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    *,
    seed: int,
    balance: float | None,
    overlay_p: float,
    filters: int,
    optimizer: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    patience: int,
    verbose: int,
):
    """The trained CNN and the number of epochs it kept (the best on ``validation``).

    Positives are topped up by overlay augmentation (Eq. 5.2) to a ``balance`` share; with
    ``validation`` training stops after ``patience`` epochs without a better AUPRC and the best
    epoch's weights are kept. Ctrl-C inside ``graceful_interrupt()`` stops after an epoch.
    """
    import keras

    from automl_kit.training import StopAtSafePoint
    from automl_kit.training import optimizer as make_optimizer

    keras.utils.set_random_seed(seed)
    if balance is not None:
        pos, neg = images[target == 1], images[target == 0]
        wanted = int(round(balance / (1 - balance) * len(neg)))
        extra = max(0, wanted - len(pos))
        if extra and len(pos) and len(neg):
            synthetic = overlay_augment(pos, neg, n=extra, p=overlay_p, seed=seed)
            images = np.concatenate([images, synthetic])
            target = np.concatenate([target, np.ones(extra, dtype=target.dtype)])
    model = build_cnn(images.shape[1:], filters)
    # no XLA: compiling takes longer than these small networks train on a CPU
    model.compile(
        make_optimizer(optimizer, learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(curve="PR", name="auprc")] if validation else None,
        jit_compile=False,
    )
    callbacks = []
    stopper = None
    if validation is not None:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_auprc", mode="max", patience=patience, restore_best_weights=True
        )
        callbacks.append(stopper)
    if verbose:

        def report(epoch, logs):
            extra = f", validation AUPRC {logs['val_auprc']:.3f}" if "val_auprc" in logs else ""
            print(f"cnn epoch {epoch + 1}/{epochs}: loss {logs['loss']:.4f}{extra}", flush=True)

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
    callbacks.append(StopAtSafePoint("cnn"))
    history = model.fit(
        images,
        target.astype(np.float32),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        validation_data=(
            None if validation is None else (validation[0], validation[1].astype(np.float32))
        ),
        callbacks=callbacks,
        verbose=0,
    )
    kept = len(history.history["loss"])
    if stopper is not None:
        scores = history.history.get("val_auprc", [])
        kept = int(np.argmax(scores)) + 1 if scores else kept
        if verbose:
            print(f"cnn: kept epoch {kept} (best validation AUPRC {max(scores):.3f})")
    return model, kept


def cnn_scores(model, images: np.ndarray) -> np.ndarray:
    """The CNN's positive-class scores, float64, one per image."""
    if not len(images):
        return np.zeros(0)
    # direct calls (no predict-function tracing) on batches of one fixed size, the last one
    # padded: CPU kernels pick their algorithm by batch size, and a patient's score must not
    # depend on which other patients are scored with it
    out = []
    for i in range(0, len(images), _SCORE_BATCH):
        batch = images[i : i + _SCORE_BATCH]
        padded = np.zeros((_SCORE_BATCH, *images.shape[1:]), dtype=np.float32)
        padded[: len(batch)] = batch
        out.append(np.asarray(model(padded, training=False))[: len(batch)])
    return np.concatenate(out).astype(np.float64).ravel()
