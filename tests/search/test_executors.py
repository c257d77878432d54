"""The process executor gives the same evaluations as serial; the ray one when Ray is installed."""

import importlib.util

import numpy as np
import pytest

from automl_kit.utils.executor import get_executor
from tests.search.conftest import run_tiny_search


def _square(x):
    return x * x


def test_executor_map_keeps_order_and_unknown_name_is_refused():
    with get_executor("serial") as ex:
        assert ex.map(_square, [3, 1, 2]) == [9, 1, 4]
    with pytest.raises(ValueError, match="unknown executor 'gpu'"):
        get_executor("gpu")


def _pid(_):
    import os

    return os.getpid()


@pytest.mark.slow
def test_process_pool_is_replaced_every_max_tasks_per_child():
    with get_executor("process", workers=1, max_tasks_per_child=2) as ex:
        pids = ex.map(_pid, range(5))
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def _search(executor, tmp_path):
    result = run_tiny_search(
        tmp_path / executor, generations=1, max_phases=1, executor=executor, workers=2
    )
    return sorted((tuple(r["genes"]), round(r["fitness"], 4)) for r in result.history)


@pytest.mark.processes
def test_process_pool_matches_serial(tmp_path):
    serial = _search("serial", tmp_path)
    process = _search("process", tmp_path)
    assert [g for g, _ in serial] == [g for g, _ in process]
    # different thread counts may reorder float sums: equal to 2 decimals of accuracy
    np.testing.assert_allclose([f for _, f in serial], [f for _, f in process], atol=0.02)


# slow: a local Ray start costs ~20 s; Ray actors are exercised by default in tests/utils/test_executor.py
@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="Ray not installed: pip install -e '.[distributed]'",
)
def test_ray_matches_serial(tmp_path):
    serial = _search("serial", tmp_path)
    ray = _search("ray", tmp_path)
    assert [g for g, _ in serial] == [g for g, _ in ray]
    np.testing.assert_allclose([f for _, f in serial], [f for _, f in ray], atol=0.02)
