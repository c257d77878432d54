"""Where a candidate's seconds go, and evaluations per minute at equal epochs (issue 24).

Runs ``--candidates`` evaluations of random chromosomes of the search space through the search's
own ``evaluate`` (as a serial search does: clear the session, build, train the recipe for
``--epochs``, validate, save) and times each part with the model's own callbacks: building,
the first epoch (tracing included), the later epochs, and saving. Reports evaluations per minute
and the share of fixed costs.

    python -m benchmarks.evaluation_speed --dataset digits --candidates 12 --epochs 2
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time

from benchmarks._common import RESULTS, load_average, parser, save, table


class _Clock:
    """Keras callback recording when training started and when each epoch ended."""

    def __init__(self):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_train_begin(cb, logs=None):
                self.marks = [time.perf_counter()]

            def on_epoch_end(cb, epoch, logs=None):
                self.marks.append(time.perf_counter())

        self.callback, self.marks = Callback(), []


def measure(dataset: str, space_name: str, candidates: int, epochs: int, seed: int) -> list[dict]:
    import keras

    from automl_kit.datasets import load
    from automl_kit.registries import SPACES
    from automl_kit.search import _evaluation as ev
    from automl_kit.training import Recipe

    data = load(dataset, seed=0, n_train=None if dataset in ("digits", "cifar10") else 10_000)
    ev.set_worker_data(data.x_train, data.y_train, data.x_val, data.y_val)
    space, rng, rows = SPACES.get(space_name)(), random.Random(seed), []
    original_build, original_save = space.build, keras.Model.save
    timings: dict = {}

    def timed_build(*args, **kwargs):
        start = time.perf_counter()
        model = original_build(*args, **kwargs)
        timings["build"] = time.perf_counter() - start
        return model

    def timed_save(model, *args, **kwargs):
        start = time.perf_counter()
        original_save(model, *args, **kwargs)
        timings["save"] = time.perf_counter() - start

    keras.Model.save = timed_save
    ev.SearchSpace.from_config = staticmethod(lambda config: space)  # the instrumented space
    space.build = timed_build
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(candidates):
            genes = space.random_genes(rng.randint(1, 3), rng)
            clock = _Clock()
            task = ev.EvalTask(
                key=f"c{index}",
                genes=genes,
                space_config=space.get_config(),
                epochs=epochs,
                recipe=Recipe().get_config(),
                seed=seed,
                model_path=f"{tmp}/c{index}.keras",
            )
            timings.clear()
            start = time.perf_counter()
            result = ev.evaluate(task, callbacks=(clock.callback,))
            total = time.perf_counter() - start
            marks = clock.marks
            first = marks[1] - marks[0] if len(marks) > 1 else None
            later = (marks[-1] - marks[1]) / (len(marks) - 2) if len(marks) > 2 else None
            rows.append(
                {
                    "candidate": index,
                    "blocks": space.n_blocks(genes),
                    "params": result.params,
                    "status": result.status,
                    "seconds": round(total, 2),
                    "build": round(timings.get("build", 0.0), 3),
                    "first_epoch": first and round(first, 2),
                    "later_epoch": later and round(later, 2),
                    "save": round(timings.get("save", 0.0), 3),
                    "other": round(total - (marks[-1] - marks[0]) - timings.get("save", 0.0), 2)
                    if len(marks) > 1
                    else None,
                }
            )
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=("small",))
    p.add_argument("--dataset", default="digits")
    p.add_argument("--space", default="stages")
    p.add_argument("--candidates", type=int, default=12)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rows = measure(args.dataset, args.space, args.candidates, args.epochs, args.seed)
    seconds = [r["seconds"] for r in rows]
    summary = {
        "dataset": args.dataset,
        "space": args.space,
        "epochs": args.epochs,
        "evaluations_per_minute": round(60 * len(rows) / sum(seconds), 2),
        "median_seconds": statistics.median(seconds),
        "median_first_epoch": statistics.median(r["first_epoch"] for r in rows if r["first_epoch"]),
        "median_later_epoch": statistics.median(r["later_epoch"] for r in rows if r["later_epoch"]),
        "median_save": statistics.median(r["save"] for r in rows),
        "median_build": statistics.median(r["build"] for r in rows),
        "median_other": statistics.median(r["other"] for r in rows if r["other"] is not None),
        "load_average": load_average(),
    }
    out = args.out or RESULTS / f"evaluation_speed-{args.dataset}.json"
    save("evaluation_speed", "small", {"summary": summary, "runs": rows}, out)
    print(table([summary], list(summary)))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
