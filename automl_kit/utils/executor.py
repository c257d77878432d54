"""Executors: where population evaluations run. Chosen by name: serial, process, ray.

Every executor takes an ``initializer(*initargs)`` run once per worker (to ship the
training data once, not per task) and yields ``(index, result)`` pairs as tasks finish,
so the caller can persist each result the moment it exists.

Memory: every traced training step leaves ~15 MiB in TensorFlow's runtime that
``clear_session()`` does not free, so the serial executor grows with the number of
candidates; the process executor replaces its workers every ``max_tasks_per_child`` tasks.

Notes measured on 2 CPU cores: a fork pool hangs once TensorFlow ran in the parent, so
the process pool uses spawn with long-lived workers (TensorFlow imported once each); Ray
runs one actor per worker. ``clear_session()`` does not return GPU memory, only ending a
worker does, so on GPU machines give each worker a GPU of its own: ``gpus=[0, 1]`` pins one per
process-pool worker (``CUDA_VISIBLE_DEVICES``, set before the worker touches a device) or asks
Ray for one GPU per actor (Ray sets the variable).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed


class Executor:
    """Base class: subclasses implement ``imap_unordered``."""

    name = "base"

    def __init__(
        self, initializer: Callable | None = None, initargs: tuple = (), workers: int | None = None
    ):
        self.initializer, self.initargs = initializer, initargs
        self.workers = workers or max(1, (os.cpu_count() or 1))

    def imap_unordered(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, object]]:
        raise NotImplementedError

    def map(self, fn: Callable, items: Iterable) -> list:
        """Results in input order (what DEAP's ``toolbox.map`` expects)."""
        items = list(items)
        out = [None] * len(items)
        for i, result in self.imap_unordered(fn, items):
            out[i] = result
        return out

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialExecutor(Executor):
    """In this process, one task after another: deterministic and the default."""

    name = "serial"

    def __init__(self, initializer=None, initargs=(), workers=None, gpus=None):
        if gpus:
            raise ValueError(
                "the serial executor trains in this process, which cannot be pinned to a GPU "
                "any more; use executor='process' (or 'ray') with gpus, or set "
                "CUDA_VISIBLE_DEVICES before starting Python."
            )
        super().__init__(initializer, initargs, 1)
        if initializer is not None:
            initializer(*initargs)

    def imap_unordered(self, fn, items):
        for i, item in enumerate(items):
            yield i, fn(item)


def _check_gpus(gpus, workers: int | None) -> tuple[list[str], int | None]:
    gpus = [str(g) for g in gpus or ()]
    if gpus and workers is not None and workers > len(gpus):
        raise ValueError(
            f"{workers} workers for {len(gpus)} GPUs {gpus}: each worker needs a GPU of its own "
            "(clear_session() does not free GPU memory); pass workers <= the number of GPUs."
        )
    return gpus, workers or (len(gpus) or None)


def limit_threads(n_threads: int) -> None:
    """TensorFlow ops on ``n_threads`` cores, one op at a time; call before TensorFlow runs anything."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(n_threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _start_worker(n_threads: int, gpu_ids, initializer, initargs):
    if gpu_ids is not None:
        # before the first device query: CUDA reads it once, when TensorFlow initialises devices
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_ids.get()
    limit_threads(n_threads)
    if initializer is not None:
        initializer(*initargs)


class ProcessExecutor(Executor):
    """A local pool of spawned worker processes, each with its own TensorFlow.

    The pool is replaced after every ``max_tasks_per_child`` tasks per worker: TensorFlow
    keeps ~15 MiB of runtime state per traced training step that no Python call releases
    (``benchmarks/evaluation_memory.py``), so only ending the processes bounds memory.
    (The standard library's own ``max_tasks_per_child`` deadlocks on Python 3.11 once a
    worker retires, hence the explicit replacement.)
    """

    name = "process"

    def __init__(
        self,
        initializer=None,
        initargs=(),
        workers=None,
        max_tasks_per_child: int | None = 40,
        gpus=None,
    ):
        self.gpus, workers = _check_gpus(gpus, workers)
        super().__init__(initializer, initargs, workers)
        self.max_tasks_per_child = max_tasks_per_child
        self._threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool = None
        self._tasks_in_pool = 0

    def _fresh_pool(self) -> ProcessPoolExecutor:
        self.close()
        context = multiprocessing.get_context("spawn")
        gpu_ids = None
        if self.gpus:
            gpu_ids = context.Queue()
            for gpu in self.gpus[: self.workers]:
                gpu_ids.put(gpu)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self._threads, gpu_ids, self.initializer, self.initargs),
        )
        self._tasks_in_pool = 0
        return self._pool

    def imap_unordered(self, fn, items):
        items = list(items)
        limit = (
            self.max_tasks_per_child * self.workers if self.max_tasks_per_child else len(items) or 1
        )
        start = 0
        while start < len(items):
            if self._pool is None or self._tasks_in_pool >= limit:
                self._fresh_pool()
            chunk = items[start : start + limit - self._tasks_in_pool]
            futures = {self._pool.submit(fn, item): start + i for i, item in enumerate(chunk)}
            self._tasks_in_pool += len(chunk)
            start += len(chunk)
            for future in as_completed(futures):
                yield futures[future], future.result()

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Ray actors, one per worker: local Ray by default, a cluster with ``address=``.

    Needs the ``distributed`` extra (``pip install automl_kit[distributed]``). With ``gpus``
    every actor asks Ray for one GPU; a local Ray is started with ``len(gpus)`` of them and
    Ray, not the ids given, decides which device each actor sees.
    """

    name = "ray"

    def __init__(
        self, initializer=None, initargs=(), workers=None, address: str | None = None, gpus=None
    ):
        self.gpus, workers = _check_gpus(gpus, workers)
        super().__init__(initializer, initargs, workers)
        try:
            import ray
        except ImportError as exc:
            raise ImportError(
                "the ray executor needs Ray: pip install 'automl_kit[distributed]'"
            ) from exc
        self._ray = ray
        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=None if address else self.workers,
                num_gpus=None if address else (len(self.gpus) or None),
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )

        if self.gpus and ray.cluster_resources().get("GPU", 0) < self.workers:
            raise ValueError(
                f"{self.workers} workers need {self.workers} GPUs, but this Ray has "
                f"{ray.cluster_resources().get('GPU', 0):g}; actors would wait forever. "
                "Start Ray with the GPUs (or call ray.shutdown() first)."
            )

        @ray.remote(num_cpus=1, num_gpus=1 if self.gpus else 0)
        class Worker:
            def __init__(self, init, args):
                if init is not None:
                    init(*args)

            def run(self, fn, index, item):
                return index, fn(item)

        self._actors = [Worker.remote(initializer, initargs) for _ in range(self.workers)]

    def imap_unordered(self, fn, items):
        from ray.util import ActorPool

        pool = ActorPool(self._actors)
        items = list(items)
        for i, item in enumerate(items):
            pool.submit(lambda actor, pair: actor.run.remote(fn, *pair), (i, item))
        while pool.has_next():
            yield pool.get_next_unordered()

    def close(self):
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []


EXECUTORS = {cls.name: cls for cls in (SerialExecutor, ProcessExecutor, RayExecutor)}


def get_executor(name: str, **kwargs) -> Executor:
    """``get_executor("process", workers=2, initializer=f, initargs=(data,))``."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; choose one of {sorted(EXECUTORS)}.")
    return EXECUTORS[name](**kwargs)
