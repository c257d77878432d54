"""Evaluations per minute of the search's ``evaluate()`` in this checkout or an older one (issue 24).

The same 12 random chromosomes of the compact thesis space (the one space both versions have),
2 epochs each, on digits, through the checkout's own ``evaluate`` (build, train, validate, save).
Older checkouts train with their constant-rate Adam, newer ones with ``Recipe()``.

    PYTHONPATH=<old checkout> python benchmarks/evaluation_rate.py <label>   # e.g. 3d23b38
    python benchmarks/evaluation_rate.py HEAD
"""

import dataclasses
import json
import random
import sys
import tempfile
import time

from automl_kit.datasets import load
from automl_kit.search import CNNSpace
from automl_kit.search import _evaluation as ev

data = load("digits", seed=0)
ev.set_worker_data(data.x_train, data.y_train, data.x_val, data.y_val)
space, rng = CNNSpace.compact(), random.Random(0)
fields = {f.name for f in dataclasses.fields(ev.EvalTask)}
extra = (
    {"recipe": __import__("automl_kit.training", fromlist=["Recipe"]).Recipe().get_config()}
    if "recipe" in fields
    else {"batch_size": 64, "learning_rate": 1e-3}
)
seconds, fitness = [], []
with tempfile.TemporaryDirectory() as tmp:
    for i in range(12):
        genes = space.random_genes(rng.randint(1, 3), rng)
        start = time.perf_counter()
        e = ev.evaluate(
            ev.EvalTask(
                key=f"c{i}",
                genes=genes,
                space_config=space.get_config(),
                epochs=2,
                seed=0,
                model_path=f"{tmp}/c{i}.keras",
                **extra,
            )
        )
        seconds.append(time.perf_counter() - start)
        fitness.append(e.fitness)
print(
    json.dumps(
        {
            "checkout": sys.argv[1],
            "module": ev.__file__,
            "evaluations_per_minute": round(60 * len(seconds) / sum(seconds), 2),
            "median_seconds": sorted(seconds)[6],
            "mean_fitness": round(sum(fitness) / len(fitness), 4),
        }
    )
)
