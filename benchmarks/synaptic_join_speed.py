"""Speed of algorithm theta (synaptic join) on the thesis's SVHN-sized problem (issue 15).

The thesis's 3-layer CNN for SVHN: 45,056 hidden neurons x 10 classes x 73,257 training samples
(V is 13 GB in float32). The tables are random but realistic: ReLU of Gaussian pre-activations
with a per-neuron gain (about 25% of the activations non-zero), logits giving about 90% training
accuracy. V is **generated chunk by chunk on the fly** (seeded per chunk), streamed into
``theta`` and dropped, never written or held whole; generation time is measured apart and not
counted as theta's. ``max |V|`` per neuron is computed during generation, as ``extract_tables``
stores it while writing the tables. We report theta's time, the peak resident memory, the load
average, and on a small case the ratio to the per-pair loop (``theta_reference``), checking that
both agree.

    python -m benchmarks.synaptic_join_speed                 # full SVHN size, ~2-3 min on 2 cores
    python -m benchmarks.synaptic_join_speed --neurons 4096  # a quick look
    python -m benchmarks.synaptic_join_speed --backends tensorflow  # TensorFlow only (GPU if any)

Each backend (``numpy``, ``tensorflow``) runs in its own spawned process, on the same generated
tables, so its peak memory is its own; the two results are checked equal.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time

import numpy as np

from automl_kit.tweak.thetas import theta, theta_reference
from benchmarks._common import parser, save, table


def make_outputs(n: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    C = rng.normal(0.0, 1.0, (classes, n)).astype(np.float32)
    C[labels, np.arange(n)] += 3.0  # about 90% right, as the thesis's SVHN model (89%)
    return C, labels


def make_chunk(rows: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n), dtype=np.float32)
    x -= 0.67  # ReLU(N(-0.67, 1)): about 25% non-zero
    np.maximum(x, 0, out=x)
    x *= rng.gamma(2.0, 1.0, (rows, 1)).astype(np.float32)
    return x


def run_full(neurons: int, n: int, classes: int, chunk: int, seed: int, backend: str) -> dict:
    C, labels = make_outputs(n, classes, seed)
    predicted, max_values = C.argmax(0), C.max(0)
    gen_time = gen_cpu = 0.0
    absmax = []

    def chunks():
        nonlocal gen_time, gen_cpu
        for c, start in enumerate(range(0, neurons, chunk)):
            t0, c0 = time.perf_counter(), time.process_time()
            x = make_chunk(min(chunk, neurons - start), n, seed * 1_000_003 + c)
            absmax.append(x.max(axis=1))  # extract_tables stores this while writing V
            gen_time += time.perf_counter() - t0
            gen_cpu += time.process_time() - c0
            yield x

    class LazyAbsmax:  # theta reads a chunk's max right after the chunk was generated
        def __getitem__(self, s):
            return np.concatenate(absmax)[s]

        def __len__(self):
            return sum(len(a) for a in absmax)

    if backend == "tensorflow":  # import and start TensorFlow outside the timed part
        import tensorflow as tf

        tf.constant(0.0) + 1.0
    t0, c0 = time.perf_counter(), time.process_time()
    r = theta(
        chunks(),
        C,
        labels,
        predicted,
        max_values,
        chunk_size=chunk,
        neuron_absmax=LazyAbsmax(),
        backend=backend,
    )
    total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
    counts = r.counts
    devices = "cpu"
    if backend == "tensorflow":
        devices = ",".join(d.device_type for d in tf.config.list_logical_devices())
    return {
        "backend": backend,
        "devices": devices,
        "neurons": neurons,
        "classes": classes,
        "samples": n,
        "_thresholds": r.thresholds,
        "_counts": counts,
        "train_accuracy": float((predicted == labels).mean()),
        "theta_s": total - gen_time,
        # CPU seconds of this process: less sensitive than wall clock to the other jobs sharing
        # the two cores (NumPy runs theta on one thread)
        "theta_cpu_s": total_cpu - gen_cpu,
        "generation_s": gen_time,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "max_count": int(counts.max()),
        "share_count_ge_half_max": float((counts >= counts.max() / 2).mean()),
        "finite_thresholds": float(np.isfinite(r.thresholds).mean()),
    }


def run_small(neurons: int, n: int, classes: int, seed: int) -> dict:
    C, labels = make_outputs(n, classes, seed)
    V = make_chunk(neurons, n, seed)
    P, M = C.argmax(0), C.max(0)
    t0 = time.perf_counter()
    r = theta(V, C, labels, P, M)
    fast = time.perf_counter() - t0
    theta(V, C, labels, P, M, backend="tensorflow")  # warm-up: TensorFlow's first call traces
    t0 = time.perf_counter()
    r_tf = theta(V, C, labels, P, M, backend="tensorflow")
    fast_tf = time.perf_counter() - t0
    t0 = time.perf_counter()
    thr = np.empty((neurons, classes))
    cnt = np.empty((neurons, classes), dtype=np.int64)
    for i in range(neurons):
        for j in range(classes):
            thr[i, j], cnt[i, j] = theta_reference(V, C, labels, P, M, i, j)
    slow = time.perf_counter() - t0
    ok = bool(np.array_equal(cnt, r.counts) and np.allclose(thr, r.thresholds, rtol=1e-6))
    ok_tf = bool(np.array_equal(cnt, r_tf.counts) and np.allclose(thr, r_tf.thresholds, rtol=1e-6))
    return {
        "neurons": neurons,
        "classes": classes,
        "samples": n,
        "theta_s": fast,
        "theta_tensorflow_s": fast_tf,
        "per_pair_loop_s": slow,
        "speedup": slow / fast,
        "speedup_tensorflow": slow / fast_tf,
        "equal": ok,
        "equal_tensorflow": ok_tf,
    }


def _full_in_child(args: tuple) -> dict:
    return run_full(*args)


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, default=45_056)
    p.add_argument("--samples", type=int, default=73_257)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--chunk", type=int, default=2048, help="neurons per streamed chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backends", default="numpy,tensorflow", help="comma-separated")
    args = p.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    load_before = os.getloadavg()
    small = run_small(64, 2000, args.classes, args.seed)
    runs = []
    ctx = multiprocessing.get_context("spawn")  # a fresh process: its own peak RSS
    for backend in backends:
        job = (args.neurons, args.samples, args.classes, args.chunk, args.seed, backend)
        with ctx.Pool(1) as pool:
            runs.append(pool.apply(_full_in_child, (job,)))
        runs[-1]["load_average_after"] = os.getloadavg()
    for r in runs[1:]:
        finite = np.isfinite(runs[0]["_thresholds"])
        r["equal_to_" + runs[0]["backend"]] = bool(
            np.array_equal(r["_counts"], runs[0]["_counts"])
            and np.array_equal(finite, np.isfinite(r["_thresholds"]))
            and np.allclose(r["_thresholds"][finite], runs[0]["_thresholds"][finite], rtol=1e-6)
        )
    for r in runs:
        del r["_thresholds"], r["_counts"]
    figures = {
        "full": runs,
        "small": small,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "gpu": "not run (no GPU on this machine)"
        if all(r["devices"] == "CPU" or r["devices"] == "cpu" for r in runs)
        else "see devices",
    }
    save("synaptic_join_speed", args.budget, figures, args.out)
    print(
        table(
            runs,
            [
                "backend",
                "devices",
                "neurons",
                "classes",
                "samples",
                "theta_s",
                "theta_cpu_s",
                "generation_s",
                "peak_rss_mib",
                "max_count",
            ],
        )
    )
    print(
        table(
            [small],
            [
                "neurons",
                "samples",
                "theta_s",
                "theta_tensorflow_s",
                "per_pair_loop_s",
                "speedup",
                "equal",
                "equal_tensorflow",
            ],
        )
    )
    print("load average before/after:", load_before, os.getloadavg())
    return figures


if __name__ == "__main__":
    main()
