"""Memory over many candidate evaluations, serial vs. a recycled process worker (issue 3).

Trains ``n`` small random CNN candidates through the same ``evaluate`` the search uses
(which clears the Keras session first) and samples the resident memory (RSS) of this
process plus its worker processes after each one.

    python -m benchmarks.evaluation_memory [--budget small|full]
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import parser, save, table


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def tree_rss_mib() -> float:
    """RSS of this process and its direct children (the executor's workers); Linux only."""
    me = os.getpid()
    total = _rss_mib(me)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            if ppid == me:
                total += _rss_mib(int(entry.name))
    return total


def run(executor: str, n: int, data, tmp: str) -> dict:
    from automl_kit.search import CNNSpace
    from automl_kit.search._evaluation import EvalTask, evaluate, set_worker_data
    from automl_kit.utils.executor import get_executor

    space = CNNSpace(channels=(8, 16, 32), kernels=(1, 3, 5))
    rng = random.Random(0)
    tasks = [
        EvalTask(
            key=str(i),
            genes=space.random_genes(rng.randint(1, 3), rng),
            space_config=space.get_config(),
            epochs=1,
            batch_size=64,
            learning_rate=1e-3,
            seed=0,
            model_path=os.path.join(tmp, f"{executor}.keras"),
        )
        for i in range(n)
    ]
    options = {"workers": 1} if executor == "process" else {}
    samples = []
    with get_executor(
        executor,
        initializer=set_worker_data,
        initargs=(data.x_train, data.y_train, data.x_val, data.y_val),
        **options,
    ) as ex:
        for _, evaluation in ex.imap_unordered(evaluate, tasks):
            assert evaluation.status == "ok", evaluation.reason
            samples.append(tree_rss_mib())
    warm = samples[9]
    half = n // 2
    return {
        "executor": executor
        + (" (1 worker, replaced every 40 tasks)" if executor == "process" else " (in-process)"),
        "evaluations": n,
        "rss_mib_after_10": round(warm, 1),
        "rss_mib_last": round(samples[-1], 1),
        "rss_mib_max": round(max(samples), 1),
        "slope_mib_per_evaluation_2nd_half": round(
            float(np.polyfit(range(n - half), samples[half:], 1)[0]), 3
        ),
        "rss_mib_every_10": [round(s, 1) for s in samples[9::10]],
    }


def main(argv=None) -> list[dict]:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    n = 120 if args.budget == "small" else 400
    from automl_kit.datasets import load

    data = load("digits", n_train=300, n_val=100, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        # the process run first: afterwards this process itself holds the serial run's leaked memory
        rows = [run(name, n, data, tmp) for name in ("process", "serial")]
    path = save("evaluation_memory", args.budget, {"rows": rows}, args.out)
    print(
        table(
            rows,
            [
                "executor",
                "evaluations",
                "rss_mib_after_10",
                "rss_mib_last",
                "rss_mib_max",
                "slope_mib_per_evaluation_2nd_half",
            ],
        )
    )
    print(f"written: {path}")
    return rows


if __name__ == "__main__":
    main()
