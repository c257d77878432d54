"""The thesis's experiments as functions (Chapter 5.1 sine regression, 5.2 MNIST, 5.3 CIFAR with a
small ResNet), shared by the benchmark, ``automl-kit grow`` and the notebook, so every caller runs
the same protocol.

>>> SINE_METHODS["adaptive"]
{'freeze': True, 'start': 'zero_outgoing'}
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from automl_kit.capacity.builders import partial_mlp, partial_mnist_convnet, partial_resnet, resnet
from automl_kit.capacity.controller import GrowthController
from automl_kit.capacity.state import model_flops, partial_layers
from automl_kit.training import optimizer as make_optimizer

# method -> how it trains: a static width, or the controller's options
SINE_METHODS: dict[str, dict] = {
    "static_small": {"static": "small"},
    "static_large": {"static": "large"},
    "adaptive": {"freeze": True, "start": "zero_outgoing"},
    "adaptive_keep_init": {"freeze": True, "start": "keep_init"},
    "grow_no_freeze": {"freeze": False, "start": "zero_outgoing"},
    "net2net": {"freeze": True, "start": "net2net"},
    "gradmax": {"freeze": True, "start": "gradmax"},
}
MNIST_METHODS = ("standard", "adaptive")
CIFAR_METHODS: dict[str, dict] = {
    "static_large": {"static": "large"},
    "static_small": {"static": "small"},
    "adaptive": {"freeze": True, "start": "zero_outgoing"},
    "grow_no_freeze": {"freeze": False, "start": "zero_outgoing"},
    "net2net": {"freeze": True, "start": "net2net"},
    "gradmax": {"freeze": True, "start": "gradmax"},
}


def sine_data(seed: int, n: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points drawn uniformly on [-2 pi, 2 pi] with targets ``sin(x)`` (thesis 5.1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2 * math.pi, 2 * math.pi, (n, 1)).astype("float32")
    return x, np.sin(x).astype("float32")


def sine_grid(n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The fixed evaluation grid: ``n`` evenly spaced points on [-2 pi, 2 pi]."""
    x = np.linspace(-2 * math.pi, 2 * math.pi, n, dtype="float32")[:, None]
    return x, np.sin(x)


# sine_data's seed offset for the validation draw (the grid is the task's test set)
SINE_VALIDATION_SEED = 10_000


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float | None:
    """Accuracy on ``(x, y)`` (the validation split), None when it is empty."""
    if not len(x):
        return None
    return float(model.evaluate(x, y, verbose=0, batch_size=500)[1])


def _fit(
    model,
    x,
    y,
    *,
    batch_size: int,
    epochs: int,
    seed: int,
    callbacks: list,
    controller=None,
    run=None,
    resume: bool = False,
    config: dict | None = None,
    state=None,
    restore=None,
    augmenter=None,
) -> None:
    """``model.fit``; with ``run`` (an open :class:`~automl_kit.utils.rundir.RunDirectory`)
    checkpointed after every epoch and resumable.

    Without ``run``: Keras's shuffling after ``set_random_seed(seed)`` (the benchmark's
    protocol). With ``run``: :func:`automl_kit.training.resumable_fit`, whose checkpoints hold
    the model and optimizer, the controller's state (counters, schedule, widths) and ``state()`` (the caller's curves);
    ``resume=True`` continues from the last finished epoch (``restore`` gets the caller's state
    back), so a resumed run ends as an unbroken one does (on the CPU). ``augmenter`` (a
    recipe's) transforms each training batch.
    """
    keras.utils.set_random_seed(seed)
    if run is None and augmenter is None:
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks)
        return
    if run is None:
        from automl_kit.training import EpochBatches

        batches = EpochBatches(x, y, batch_size, seed=seed, augmenter=augmenter)
        model.fit(batches, epochs=epochs, verbose=0, callbacks=callbacks, shuffle=False)
        return
    from automl_kit.training import resumable_fit

    if controller is not None:
        controller.attach(model)  # the optimizer over every chunk, as the saved run built it

    def get_state() -> dict:
        return {
            "controller": controller.get_state() if controller is not None else None,
            "caller": state() if state is not None else {},
        }

    def set_state(saved: dict) -> None:
        if controller is not None:
            controller.set_state(saved["controller"])
        if restore is not None:
            restore(saved["caller"])

    resumable_fit(
        model,
        x,
        y,
        run,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        config=config or {},
        resume=resume,
        get_state=get_state,
        set_state=set_state,
        callbacks=callbacks,
        augmenter=augmenter,
    )


def _check_method(method: str, methods) -> None:
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(methods)}.")


def run_sine(
    method: str,
    seed: int = 0,
    *,
    width: int = 500,
    chunks: int = 5,
    epochs: int = 60,
    n_train: int = 2048,
    batch_size: int = 32,
    lr: float = 1e-3,
    optimizer: str = "adam",
    patience: int = 10,
    interval: int = 4,
    smoothing: float = 0.9,
    verbose: int = 0,
    run_dir=None,
    resume: bool = False,
    callbacks=(),
) -> dict:
    """Train one net on the sine task; the loss curve on the grid after every epoch ("samples").

    One ReLU hidden layer of up to ``width`` units (``width / chunks`` for the small static net
    and the adaptive start), Adam, MSE. Hidden weights N(0, 1) and biases U(-2 pi, 2 pi), so that
    the ReLU kinks spread over the input range (with Glorot and zero biases every kink sits at
    0 and no net fits the sine; the thesis does not say how it initialised biases).
    ``final10_mean``/``final10_std`` are Table 5.2's statistics over the last 10 samples.
    ``run_dir`` (an open ``RunDirectory``) checkpoints every epoch; ``resume`` continues it
    (:func:`_fit`); ``callbacks`` are added to ``fit``'s.
    """
    _check_method(method, SINE_METHODS)
    spec = SINE_METHODS[method]
    x, y = sine_data(seed, n_train)
    grid_x, grid_y = sine_grid()
    static = spec.get("static")
    small = width // chunks
    model = partial_mlp(
        1,
        1,
        hidden=(width if static == "large" else small if static else width,),
        chunks=1 if static else chunks,
        active=1,
        activation="relu",
        kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0, seed=seed),
        bias_initializer=keras.initializers.RandomUniform(-2 * math.pi, 2 * math.pi, seed=seed + 1),
        seed=seed,
    )
    model.compile(make_optimizer(optimizer, lr), "mse")
    fit_callbacks: list = []
    controller = None
    if not static:
        controller = GrowthController(
            patience=patience,
            interval=interval,
            smoothing=smoothing,
            freeze=spec["freeze"],
            start=spec["start"],
            probe=(x[:256], y[:256]) if spec["start"] == "gradmax" else None,
            verbose=verbose,
        )
        fit_callbacks.append(controller)
    curve: list[float] = []

    class Sample(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            curve.append(float(np.mean((np.asarray(model(grid_x)) - grid_y) ** 2)))
            if verbose:
                print(
                    f"epoch {epoch + 1}/{epochs}: training loss {logs['loss']:.5g}, grid MSE "
                    f"{curve[-1]:.5g}{_widths(model)}",
                    flush=True,
                )

    started = time.perf_counter()
    _fit(
        model,
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        callbacks=[*fit_callbacks, Sample(), *callbacks],
        controller=controller,
        run=run_dir,
        resume=resume,
        config={"task": "sine", "method": method, "seed": seed},
        state=lambda: {"curve": curve},
        restore=lambda saved: curve.extend(saved["curve"]),
    )
    seconds = time.perf_counter() - started
    tail = np.asarray(curve[-10:])
    x_val, y_val = sine_data(seed + SINE_VALIDATION_SEED, 512)
    return {
        "final10_mean": float(tail.mean()),
        "final10_std": float(tail.std()),
        "validation_mse": float(np.mean((np.asarray(model(x_val)) - y_val) ** 2)),
        "curve": curve,
        "seconds": seconds,
        "growth_steps": [r["step"] for r in controller.schedule[1:]] if controller else [],
        "schedule": controller.schedule if controller else [],
        "losses": controller.losses if controller else [],
        "controller": controller,
        "model": model,
    }


def mnist_convnet(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    filters=(32, 64),
    dense: int = 1024,
    kernel_size: int = 7,
    seed: int | None = None,
) -> keras.Model:
    """The standard (plain Keras) net of :func:`partial_mnist_convnet`'s full size."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    for width in filters:
        x = keras.layers.Conv2D(width, kernel_size, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def run_mnist(
    method: str,
    data,
    seed: int = 0,
    *,
    epochs: int = 3,
    batch_size: int = 50,
    lr: float = 1e-3,
    optimizer: str = "adam",
    chunks: int = 10,
    filters=(32, 64),
    dense: int = 1024,
    patience: int = 10,
    interval: int = 10,
    smoothing: float = 0.9,
    sample_every: int = 20,
    verbose: int = 0,
    run_dir=None,
    resume: bool = False,
    callbacks=(),
) -> dict:
    """The MNIST conv net in tenths (``adaptive``) or plain (``standard``), thesis 5.2 / Table 5.4.

    A "sample" is the mean training loss over ``sample_every`` batches; ``final10_*`` are over
    the last 10 samples. Returns test loss/accuracy and the wall clock of ``fit``. ``run_dir``,
    ``resume``, ``callbacks``: as in :func:`run_sine`.
    """
    _check_method(method, MNIST_METHODS)
    kwargs = {"filters": filters, "dense": dense, "seed": seed}
    if method == "standard":
        model = mnist_convnet(data.input_shape, data.num_classes, **kwargs)
    else:
        model = partial_mnist_convnet(
            data.input_shape, data.num_classes, chunks=chunks, active=1, **kwargs
        )
    model.compile(
        make_optimizer(optimizer, lr), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    controller = None
    fit_callbacks: list = []
    if method == "adaptive":
        controller = GrowthController(
            patience=patience, interval=interval, smoothing=smoothing, verbose=verbose
        )
        fit_callbacks.append(controller)
    losses: list[float] = []

    class Batches(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.previous = (0.0, 0)

        def on_train_batch_end(self, batch, logs=None):
            # the running epoch mean -> this batch's loss (equal batch sizes but the last)
            mean, count = float(logs["loss"]), batch + 1
            total = mean * count
            losses.append(total - self.previous[0])
            self.previous = (total, count)

        def on_epoch_end(self, epoch, logs=None):
            if verbose:
                print(
                    f"epoch {epoch + 1}/{epochs}: training loss {logs['loss']:.4f}, accuracy "
                    f"{logs['accuracy']:.4f}{_widths(model)}",
                    flush=True,
                )

    started = time.perf_counter()
    _fit(
        model,
        data.x_train,
        data.y_train,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        callbacks=[*fit_callbacks, Batches(), *callbacks],
        controller=controller,
        run=run_dir,
        resume=resume,
        config={"task": "mnist", "method": method, "seed": seed},
        state=lambda: {"losses": losses},
        restore=lambda saved: losses.extend(saved["losses"]),
    )
    seconds = time.perf_counter() - started
    samples = [
        float(np.mean(losses[i : i + sample_every]))
        for i in range(0, len(losses) - sample_every + 1, sample_every)
    ]
    if not samples and losses:  # fewer batches than one sample: their mean is the one sample
        samples = [float(np.mean(losses))]
    tail = np.asarray(samples[-10:])
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0, batch_size=500)
    return {
        "final10_mean": float(tail.mean()),
        "final10_std": float(tail.std()),
        "samples": samples,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "validation_accuracy": _accuracy(model, data.x_val, data.y_val),
        "seconds": seconds,
        "growth_steps": [r["step"] for r in controller.schedule[1:]] if controller else [],
        "schedule": controller.schedule if controller else [],
        "controller": controller,
        "model": model,
    }


def run_cifar(
    method: str,
    data,
    seed: int = 0,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    widths=(16, 32, 64),
    blocks: int = 1,
    stem_strides: int = 1,
    chunks: int = 4,
    normalize: bool = False,
    recipe=None,
    patience: int = 10,
    interval: int = 10,
    smoothing: float = 0.9,
    every: int | None = None,
    verbose: int = 0,
    run_dir=None,
    resume: bool = False,
    callbacks=(),
) -> dict:
    """The small CIFAR ResNet static or grown (thesis 5.3, on a CIFAR-10 subset).

    ``static_large``: the plain Keras :func:`resnet` of full ``widths``; ``static_small``: the
    same at ``widths / chunks`` (one chunk); the growers: :func:`partial_resnet` starting at one
    chunk of every layer and growing all layers by a chunk on each plateau of the moving-average
    training loss (``interval`` batches per check, ``patience`` checks) or, with ``every``, every
    ``every`` batches (the thesis's CIFAR-100 schedule). After every epoch the
    test accuracy is measured (its time is not counted) and the cumulative ``fit`` seconds and
    training FLOPs (:func:`model_flops` of the widths each step ran at) are recorded, so the
    cost of reaching a given accuracy can be read off ``curve``. ``gap`` is training minus test
    accuracy, both measured at the end by ``evaluate``. ``normalize`` batch-normalises every
    convolution (static nets: Keras's ``BatchNormalization``; growers: the partial rule of
    :class:`~automl_kit.capacity.PartialConv2D`; not with the ``gradmax`` start). ``recipe``
    (a :class:`~automl_kit.training.Recipe`) trains with its optimizer, schedule over all the
    epochs, loss, batch size and augmentation in place of ``optimizer``, ``lr`` and
    ``batch_size``; the last epoch's weights are kept. ``run_dir``, ``resume``, ``callbacks``: as
    in :func:`run_sine`.
    """
    _check_method(method, CIFAR_METHODS)
    spec = CIFAR_METHODS[method]
    static = spec.get("static")
    if normalize and spec.get("start") == "gradmax":
        raise ValueError(
            "the gradmax start does not support batch normalisation (normalize=True); pick "
            "adaptive or net2net, or train without normalisation."
        )
    kwargs = {"blocks": blocks, "stem_strides": stem_strides, "normalize": normalize, "seed": seed}
    if static:
        small = [max(1, w // chunks) for w in widths]
        model = resnet(
            data.input_shape,
            data.num_classes,
            widths=widths if static == "large" else small,
            **kwargs,
        )
    else:
        model = partial_resnet(
            data.input_shape, data.num_classes, widths=widths, chunks=chunks, active=1, **kwargs
        )
    x_train, y_train = data.x_train.astype("float32"), data.y_train
    x_test, y_test = data.x_test.astype("float32"), data.y_test
    x_val = data.x_val.astype("float32")
    if x_train.max() > 1.5:  # raw 0-255 pixels
        x_train, x_test, x_val = x_train / 255.0, x_test / 255.0, x_val / 255.0
    augmenter = None
    if recipe is None:
        model.compile(
            make_optimizer(optimizer, lr), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    else:
        batch_size = recipe.batch_size
        recipe.compile(model, math.ceil(len(x_train) / batch_size) * epochs)
        augmenter = recipe.augmenter(data.input_shape, seed)
    controller = None
    fit_callbacks: list = []
    if not static:
        controller = GrowthController(
            patience=patience,
            interval=interval,
            smoothing=smoothing,
            freeze=spec["freeze"],
            start=spec["start"],
            every=every,
            verbose=verbose,
        )
        fit_callbacks.append(controller)
    if controller is not None and controller.start.name == "gradmax":
        controller.probe = (x_train[:64], y_train[:64])  # GradMax's probe batch
    curve: list[dict] = []
    cost = {"seconds": 0.0, "flops": 0.0, "started": 0.0}

    class Track(keras.callbacks.Callback):
        """FLOPs per batch at the widths it ran at; fit seconds without the test evaluations."""

        flops = None  # a static net's FLOPs per sample, measured once

        def on_epoch_begin(self, epoch, logs=None):
            cost["started"] = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            if controller is None or controller.capacity is None:
                if self.flops is None:  # a static net: its cost never changes
                    self.flops = model_flops(model)["train"]
                flops = self.flops
            else:
                flops = controller.capacity.flops()["train"]
            cost["flops"] += flops * batch_size

        def on_epoch_end(self, epoch, logs=None):
            cost["seconds"] += time.perf_counter() - cost["started"]
            loss, accuracy = model.evaluate(x_test, y_test, verbose=0, batch_size=500)
            curve.append(
                {
                    "epoch": epoch + 1,
                    "seconds": cost["seconds"],
                    "flops": cost["flops"],
                    "train_accuracy_running": float(logs["accuracy"]),
                    "test_accuracy": float(accuracy),
                    "test_loss": float(loss),
                }
            )
            if verbose:
                print(
                    f"epoch {epoch + 1}: test accuracy {accuracy:.4f}, {cost['seconds']:.1f} s",
                    flush=True,
                )

    def restore(saved):
        curve.extend(saved["curve"])
        cost.update(seconds=saved["seconds"], flops=saved["flops"])

    _fit(
        model,
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        callbacks=[*fit_callbacks, Track(), *callbacks],
        controller=controller,
        run=run_dir,
        resume=resume,
        config={
            "task": "cifar10",
            "method": method,
            "seed": seed,
            "normalize": normalize,
            "recipe": None if recipe is None else recipe.get_config(),
        },
        state=lambda: {"curve": curve, "seconds": cost["seconds"], "flops": cost["flops"]},
        restore=restore,
        augmenter=augmenter,
    )
    train_loss, train_accuracy = model.evaluate(x_train, y_train, verbose=0, batch_size=500)
    last = curve[-1]
    return {
        "test_accuracy": last["test_accuracy"],
        "validation_accuracy": _accuracy(model, x_val, data.y_val),
        "test_loss": last["test_loss"],
        "train_accuracy": float(train_accuracy),
        "train_loss": float(train_loss),
        "gap": float(train_accuracy) - last["test_accuracy"],
        "seconds": last["seconds"],
        "flops": last["flops"],
        "curve": curve,
        "growth_steps": [r["step"] for r in controller.schedule[1:]] if controller else [],
        "schedule": controller.schedule if controller else [],
        "controller": controller,
        "model": model,
    }


def _widths(model) -> str:
    """``, active units 200/500`` for the partial layers of ``model`` ('' for a static net)."""
    layers = partial_layers(model)
    if not layers:
        return ""
    active = ", ".join(f"{layer.active_units}/{layer.full_width}" for layer in layers)
    return f", active units {active}"


def cost_to_reach(curve: list[dict], accuracy: float) -> dict | None:
    """The first epoch of ``curve`` (from :func:`run_cifar`) whose test accuracy is at least
    ``accuracy``: ``{"epoch", "seconds", "flops"}``; None if never reached.

    >>> cost_to_reach([{"epoch": 1, "seconds": 2.0, "flops": 5.0, "test_accuracy": 0.4},
    ...                {"epoch": 2, "seconds": 4.0, "flops": 9.0, "test_accuracy": 0.6}], 0.5)
    {'epoch': 2, 'seconds': 4.0, 'flops': 9.0}
    """
    for row in curve:
        if row["test_accuracy"] >= accuracy:
            return {k: row[k] for k in ("epoch", "seconds", "flops")}
    return None
