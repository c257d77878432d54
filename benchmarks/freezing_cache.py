"""Caching the frozen prefix's outputs (AutoFreeze, Egeria): what it would save on top of freezing.

A measurement, not a library feature (issue 17, "Realise more of the ceiling"). For ResNet-20 and
frozen prefixes of 0, 6, 11, 16 and 18 of its 22 units, seconds per training step:

* ``frozen``: the whole model, training only the units after the prefix, as the freezing trainer
  does today (forward through the prefix, backward pruned: :class:`automl_kit.training.TrainSteps`);
* ``cached``: a suffix model fed the prefix's precomputed outputs (the cache), the same units
  training;

and the cache's one-off cost: seconds to compute it per batch (the prefix's forward pass in
inference mode) and its size in bytes per sample (float32). The cut after a prefix is every
tensor the prefix produces and a later layer reads (two inside a residual block: the branch and
the shortcut). ``check`` is the largest difference between the full model's training-mode output
with the prefix's layers frozen (BatchNormalization then normalises with its moving statistics)
and the suffix's output on the cache: the cache is exact only then.

Timing: every step compiled and warmed up first, then ``--rounds`` rounds that time each variant
once in turn; the median per variant (rounds spread a shared machine's load over all variants).
Synthetic inputs (step time does not depend on the values). Run it pinned to one core::

    taskset -c 1 python -m benchmarks.freezing_cache
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks._common import RESULTS, load_average, parser, save, table

PREFIXES = (0, 6, 11, 16, 18)
COLUMNS = [
    "prefix",
    "frozen_s",
    "cached_s",
    "cache_saves",
    "frozen_vs_full",
    "cached_vs_full",
    "cache_s_per_batch",
    "break_even_epochs",
    "cache_bytes_per_sample",
    "check",
]


def cut(model, units, prefix: int) -> list:
    """The tensors the first ``prefix`` units' part of ``model`` hands to the rest of it.

    That part: the frozen units' layers and every weightless layer fed only by it (activations,
    additions); ``model.layers`` is topological, so one pass finds it.
    """
    import keras

    from automl_kit._compat import producing_layer

    frozen = {id(layer) for unit in units[:prefix] for layer in unit.layers}
    inside: set[int] = set()
    for layer in model.layers:
        producers = [producing_layer(t) for t in keras.tree.flatten(layer.input)]
        fed_inside = all(p is None or id(p) in inside for p in producers)
        if id(layer) in frozen or (fed_inside and not layer.weights):
            inside.add(id(layer))
    boundary: list = []
    for layer in model.layers:
        if id(layer) in inside or isinstance(layer, keras.layers.InputLayer):
            continue
        for tensor in keras.tree.flatten(layer.input):
            producer = producing_layer(tensor)
            produced_inside = producer is None or id(producer) in inside
            if produced_inside and not any(tensor is b for b in boundary):
                boundary.append(tensor)
    return boundary


def timed(functions: dict, rounds: int) -> dict:
    """Median seconds of one call of each function, over ``rounds`` rounds taking turns."""
    times: dict = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(input_shape, batch: int, rounds: int, samples_per_epoch: int) -> list[dict]:
    import keras
    import tensorflow as tf

    from automl_kit.training import TrainSteps, freezable_units, variables_after
    from automl_kit.zoo import build_model

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *input_shape)).astype("float32")
    y = rng.integers(0, 10, batch)

    def compiled(model):
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
        return model

    model = compiled(build_model("resnet20", input_shape, 10))
    units = freezable_units(model)
    steps = TrainSteps(model)

    def frozen_step(trainable):
        steps.activate(trainable)  # a cached step: a dictionary look-up
        model.train_on_batch(x, y)

    functions, rows = {}, []
    for prefix in PREFIXES:
        row = {"prefix": prefix}
        trainable = variables_after(units, prefix, steps.variables)
        functions[f"frozen/{prefix}"] = lambda t=trainable: frozen_step(t)
        if prefix:
            boundary = cut(model, units, prefix)
            head = keras.Model(model.input, boundary)
            suffix = compiled(keras.Model(boundary, model.output))
            cache_batch = tf.function(lambda inputs, head=head: head(inputs, training=False))
            cache = [c.numpy() for c in tf.nest.flatten(cache_batch(x))]
            functions[f"cached/{prefix}"] = lambda s=suffix, c=cache: s.train_on_batch(c, y)
            functions[f"cache/{prefix}"] = lambda f=cache_batch: f(x)
            row["cache_bytes_per_sample"] = int(sum(c[0].nbytes for c in cache))
            row["cut"] = [list(c.shape[1:]) for c in cache]
            row["check"] = _check(model, units, prefix, suffix, cache, x)
        rows.append(row)
    for function in functions.values():  # compile and warm up
        function()
        function()
    seconds = timed(functions, rounds)
    full = seconds["frozen/0"]
    steps_per_epoch = -(-samples_per_epoch // batch)
    for row in rows:
        prefix = row["prefix"]
        row["frozen_s"] = seconds[f"frozen/{prefix}"]
        row["frozen_vs_full"] = row["frozen_s"] / full
        if prefix:
            row["cached_s"] = seconds[f"cached/{prefix}"]
            row["cache_s_per_batch"] = seconds[f"cache/{prefix}"]
            row["cache_saves"] = 1 - row["cached_s"] / row["frozen_s"]
            row["cached_vs_full"] = row["cached_s"] / full
            saved = row["frozen_s"] - row["cached_s"]
            # epochs the cache must serve to repay its one epoch of prefix forward passes
            row["break_even_epochs"] = (
                row["cache_s_per_batch"] / saved if saved > 0 else float("inf")
            )
            row["cache_mb_per_epoch"] = row["cache_bytes_per_sample"] * samples_per_epoch / 2**20
            row["steps_per_epoch"] = steps_per_epoch
    return rows


def _check(model, units, prefix: int, suffix, cache, x) -> float:
    """Max |full model, prefix frozen (BN on moving statistics) - suffix on the cache| (training)."""
    layers = [layer for unit in units[:prefix] for layer in unit.layers]
    for layer in layers:
        layer.trainable = False
    try:
        full = model(x, training=True).numpy()
    finally:
        for layer in layers:
            layer.trainable = True
    return float(np.abs(full - suffix(cache, training=True).numpy()).max())


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=("small",))
    p.add_argument("--input", default="28x28x1", help="input shape, e.g. 28x28x1 or 32x32x3")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--samples", type=int, default=60000, help="samples per epoch (for the cache's size)"
    )
    args = p.parse_args(argv)
    input_shape = tuple(int(n) for n in args.input.split("x"))
    load_start, started = load_average(), time.perf_counter()
    rows = measure(input_shape, args.batch, args.rounds, args.samples)
    figures = {
        "protocol": {
            "model": "resnet20",
            "input_shape": list(input_shape),
            "batch_size": args.batch,
            "rounds": args.rounds,
            "samples_per_epoch": args.samples,
            "cores": sorted(os.sched_getaffinity(0)),
            "optimizer": "SGD 0.01 momentum 0.9",
            "frozen_batchnorm": "update (frozen_s), inference (cached_s: the cache needs it)",
        },
        "rows": rows,
        "load_start": load_start,
        "load_end": load_average(),
        "seconds": time.perf_counter() - started,
    }
    path = save(
        "freezing_cache", args.budget, figures, out=args.out or RESULTS / "freezing_cache.json"
    )
    print(table(rows, COLUMNS))
    print(
        f"cores {figures['protocol']['cores']}, load {load_start} -> {figures['load_end']}; {path}"
    )


if __name__ == "__main__":
    main()
