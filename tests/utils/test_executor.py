"""GPU pinning: each process-pool worker sees one GPU of its own; misuse is refused."""

from __future__ import annotations

import importlib.util

import pytest

from automl_kit.utils.executor import get_executor


def _visible_gpu(barrier):
    import os

    barrier.wait(timeout=120)  # both tasks must be running at once, so on both workers
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")


@pytest.mark.processes
def test_process_workers_get_one_gpu_each():
    import multiprocessing

    with multiprocessing.Manager() as manager, get_executor("process", gpus=[3, 5]) as ex:
        assert ex.workers == 2  # one worker per GPU by default
        barrier = manager.Barrier(2)
        seen = ex.map(_visible_gpu, [barrier, barrier])
    assert len({pid for pid, _ in seen}) == 2
    assert sorted(gpu for _, gpu in seen) == ["3", "5"]


def test_more_workers_than_gpus_or_gpus_in_process_are_refused():
    with pytest.raises(ValueError, match="each worker needs a GPU of its own"):
        get_executor("process", gpus=[0], workers=2)
    with pytest.raises(ValueError, match="cannot be pinned to a GPU"):
        get_executor("serial", gpus=[0])


def _gpu_of_actor(_):
    import os
    import time

    time.sleep(0.5)
    return os.environ.get("CUDA_VISIBLE_DEVICES")


@pytest.mark.processes
@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="Ray not installed: pip install -e '.[distributed]'",
)
def test_ray_actors_get_one_gpu_each():
    import ray

    ray.shutdown()  # a Ray started by another test has no GPUs
    try:
        with get_executor("ray", gpus=[0, 1]) as ex:  # Ray counts GPUs it is told exist
            seen = ex.map(_gpu_of_actor, range(4))
        assert set(seen) == {"0", "1"}
        ray.shutdown()
        ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
        with pytest.raises(ValueError, match="need 2 GPUs"):
            get_executor("ray", gpus=[0, 1])
    finally:
        ray.shutdown()
