"""Memory over many candidate evaluations: RSS must not grow with their number (issue 3).

Trains ``n`` small random CNN candidates one after another through the same ``evaluate``
the search uses (which clears the Keras session first) and samples the process RSS.

    python -m benchmarks.evaluation_memory [--budget small|full]
"""

from __future__ import annotations

import os
import random
import tempfile

import numpy as np

from benchmarks._common import parser, save, table


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc: this benchmark needs Linux")


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    n = 120 if args.budget == "small" else 400
    from automl_kit.datasets import load
    from automl_kit.search import CNNSpace
    from automl_kit.search._evaluation import EvalTask, evaluate, set_worker_data

    data = load("digits", n_train=300, n_val=100, seed=0)
    set_worker_data(data.x_train, data.y_train, data.x_val, data.y_val)
    space = CNNSpace(channels=(8, 16, 32), kernels=(1, 3, 5))
    rng = random.Random(0)
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            genes = space.random_genes(rng.randint(1, 3), rng)
            task = EvalTask(
                key=str(i),
                genes=genes,
                space_config=space.get_config(),
                epochs=1,
                batch_size=64,
                learning_rate=1e-3,
                seed=0,
                model_path=os.path.join(tmp, "m.keras"),
            )
            evaluate(task)
            samples.append(rss_mib())
    warm = samples[9]
    figures = {
        "evaluations": n,
        "rss_mib_after_10": round(warm, 1),
        "rss_mib_last": round(samples[-1], 1),
        "growth_mib_from_10_to_last": round(samples[-1] - warm, 1),
        "growth_mib_per_100_evaluations": round((samples[-1] - warm) / (n - 10) * 100, 2),
        "rss_mib_every_10": [round(s, 1) for s in samples[9::10]],
        "slope_mib_per_evaluation_2nd_half": round(
            float(np.polyfit(range(n // 2), samples[n // 2 :], 1)[0]), 4
        ),
    }
    path = save("evaluation_memory", args.budget, figures, args.out)
    print(
        table(
            [figures],
            [
                "evaluations",
                "rss_mib_after_10",
                "rss_mib_last",
                "growth_mib_per_100_evaluations",
                "slope_mib_per_evaluation_2nd_half",
            ],
        )
    )
    print(f"written: {path}")
    return figures


if __name__ == "__main__":
    main()
