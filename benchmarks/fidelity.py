"""Does a short run rank candidates as a full training does? Kendall tau of search fitness (issue 24).

Per data set: ``--candidates`` chromosomes of the default search space (``StageSpace``): its
known-good starts (the textbook CNN and a narrow residual net) and random ones of 1 to 4 stages
drawn with a fixed seed. Each is trained twice from the same initialisation with the shared
``Recipe``: for ``--short`` epochs (a short full schedule: the search's fitness, validation
accuracy of the kept weights) and for ``--long`` epochs (the final fit's schedule, scored on the
test set). Reports Kendall's tau between the two, with a bootstrap 95 % interval over candidates,
and the seconds each fidelity costs.

    python -m benchmarks.fidelity --datasets digits,cifar10 --candidates 20 --lanes 2
"""

from __future__ import annotations

import random
import statistics
import time

from automl_kit.utils import write_json
from benchmarks._common import RESULTS, Lanes, load_average, parser, run_grid, table

SIZES = {
    "digits": (None, None, None),
    "mnist": (10_000, 2_000, None),
    "fashion_mnist": (10_000, 2_000, None),
    "cifar10": (None, None, None),
}


def chromosomes(count: int, seed: int = 0) -> list[list]:
    from automl_kit.search import StageSpace

    space, rng = StageSpace(), random.Random(seed)
    found = [*space.known_good(3)]
    while len(found) < count:
        genes = space.random_genes(rng.randint(1, 4), rng)
        if genes not in found:
            found.append(genes)
    return found[:count]


def run_one(dataset: str, index: int, count: int, short: int, long: int) -> dict:
    import keras

    from automl_kit.datasets import load
    from automl_kit.search import StageSpace
    from automl_kit.training import Recipe

    n_train, n_val, n_test = SIZES[dataset]
    data = load(dataset, n_train=n_train, n_val=n_val, n_test=n_test, seed=0)
    genes = chromosomes(count)[index]
    space, recipe, out = StageSpace(), Recipe(), {"genes": genes}
    for name, epochs in (("short", short), ("long", long)):
        keras.utils.set_random_seed(index)  # one initialisation for both fidelities
        model = space.build(genes, data.input_shape, data.num_classes)
        start = time.perf_counter()
        history = recipe.fit(
            model, data.x_train, data.y_train, validation_data=data.validation_data,
            epochs=epochs, seed=index,
        ).history  # fmt: skip
        out[f"{name}_seconds"] = round(time.perf_counter() - start, 1)
        out[f"{name}_val"] = recipe.kept_accuracy(model, history, data.validation_data)
        out[f"{name}_test"] = float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])
    out.update(params=int(model.count_params()), load_average=load_average())
    return out


def kendall(rows: list[dict], x: str, y: str) -> dict:
    """Kendall's tau of ``x`` and ``y`` over ``rows`` with a bootstrap 95 % interval over rows;
    None where it is undefined (a column with one distinct value)."""
    from scipy.stats import kendalltau

    def tau_of(pairs) -> float | None:
        value = float(kendalltau(*zip(*pairs)).statistic)
        return None if value != value else value  # NaN: ties everywhere

    pairs = [(r[x], r[y]) for r in rows]
    rng = random.Random(0)
    taus = sorted(
        t
        for t in (tau_of([rng.choice(pairs) for _ in pairs]) for _ in range(2000))
        if t is not None
    )
    low = taus[int(0.025 * len(taus))] if taus else None
    high = taus[int(0.975 * len(taus)) - 1] if taus else None
    return {"tau": tau_of(pairs), "ci_low": low, "ci_high": high}


def figures(rows: list[dict]) -> dict:
    summary = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        members = [r for r in rows if r["dataset"] == dataset]
        if len(members) < 3:
            continue
        summary.append(
            {
                "dataset": dataset,
                "candidates": len(members),
                **kendall(members, "short_val", "long_test"),
                "tau_long_val_vs_test": kendall(members, "long_val", "long_test")["tau"],
                "short_seconds": statistics.fmean(r["short_seconds"] for r in members),
                "long_seconds": statistics.fmean(r["long_seconds"] for r in members),
                "best_long_test": max(r["long_test"] for r in members),
                "textbook_long_test": members[0]["long_test"] if members[0]["index"] == 0 else None,
            }
        )
    return {"runs": rows, "summary": summary}


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], budgets=("small",))
    p.add_argument("--datasets", default="digits,cifar10")
    p.add_argument("--candidates", type=int, default=20)
    p.add_argument("--short", type=int, default=2, help="epochs of the search's fitness")
    p.add_argument("--long", default="digits:30,cifar10:15", help="final-fit epochs per data set")
    p.add_argument("--lanes", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--single", default=None, help="DATASET:INDEX:COUNT:SHORT:LONG (a child run)")
    args = p.parse_args(argv)
    if args.single:
        dataset, index, count, short, long = args.single.split(":")
        write_json(args.out, run_one(dataset, int(index), int(count), int(short), int(long)))
        return
    longs = dict(item.split(":") for item in args.long.split(","))
    cells = [
        {"dataset": d, "index": i} for d in args.datasets.split(",") for i in range(args.candidates)
    ]
    lanes = Lanes(args.lanes)

    def run_cell(cell: dict) -> dict:
        spec = f"{cell['dataset']}:{cell['index']}:{args.candidates}:{args.short}:{longs.get(cell['dataset'], 15)}"
        return lanes.run("benchmarks.fidelity", ["--single", spec], label=spec)

    def on_row(row: dict, grid) -> None:
        print(
            f"{row['dataset']} #{row['index']}: short val {row['short_val']:.3f} "
            f"({row['short_seconds']:.0f} s), long test {row['long_test']:.3f} ({row['long_seconds']:.0f} s)",
            flush=True,
        )

    out = args.out or str(RESULTS / "fidelity-small.json")
    grid = run_grid(
        "fidelity", cells, run_cell, out=out, resume=args.resume, lanes=args.lanes,
        figures=figures, on_row=on_row,
    )  # fmt: skip
    print(
        table(
            figures(grid.rows)["summary"],
            [
                "dataset",
                "candidates",
                "tau",
                "ci_low",
                "ci_high",
                "tau_long_val_vs_test",
                "short_seconds",
                "long_seconds",
                "best_long_test",
                "textbook_long_test",
            ],
        )
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
