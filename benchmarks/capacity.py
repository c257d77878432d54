"""Dynamic capacity with partial freezing against static nets and other ways of growing (issue 12).

Experiment 1 (thesis 5.1, Table 5.2): sine regression, one hidden layer of up to 500 ReLU units;
static 100, static 500, adaptive (start at 100, grow by 100 on plateau, freeze what was active)
and the rivals: the thesis's own start (allocated weights), growing without freezing, Net2Net and
GradMax starts. Same data, initialisation, optimizer, batch order and epochs for every method;
final-10 loss on a fixed grid, per seed; paired differences to each static net with bootstrap
95% intervals. Timing: seconds per training step at 10/50/100% active width against plain
``Dense``/``Conv2D`` nets of full width. Experiment 2 (thesis 5.2, Table 5.4): the MNIST conv net
in tenths against the standard net of the same final size. Experiment 3 (thesis 5.3, on the
CIFAR-10 subset): the small ResNet static large, static small (a quarter of the width) and adaptive
(quarters, grow + freeze): test accuracy, train/test gap, and the fit wall clock and training FLOPs
the adaptive net needs to come within 0.3 points of the static large net's final accuracy.

    python -m benchmarks.capacity --budget small                    # ~15 min on 2 shared cores
    python -m benchmarks.capacity --budget small --parts sine --resume
    python -m benchmarks.capacity --budget small --parts cifar       # ~12 min on 2 shared cores
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    paired_differences,
    parser,
    run_grid,
    save,
    table,
)

BUDGETS = {
    "small": {
        "sine": {"epochs": 60, "n_train": 2048, "seeds": [0, 1, 2, 3, 4]},
        "mnist": {
            "n_train": 6000,
            "epochs": 5,
            "seeds": [0, 1, 2],
            "filters": (32, 64),
            "dense": 1024,
            "interval": 4,
        },
        "timing": {"steps": 20, "repeats": 7},
        "cifar": {
            "epochs": 8,
            "seeds": [0, 1, 2],
            "widths": (16, 32, 64),
            "chunks": 4,
            "batch_size": 64,
            "interval": 5,
            "patience": 10,
            "every": 90,  # batches between growths (plateau rule: no growth in 8 epochs)
            "methods": ("static_large", "adaptive", "static_small"),
        },
    },
    "full": {
        "sine": {"epochs": 200, "n_train": 8192, "seeds": list(range(10))},
        "mnist": {
            "n_train": None,
            "epochs": 20,
            "seeds": [0, 1, 2, 3, 4],
            "filters": (32, 64),
            "dense": 1024,
            "interval": 10,
        },
        "timing": {"steps": 100, "repeats": 10},
        "cifar": {
            "epochs": 40,
            "seeds": [0, 1, 2, 3, 4],
            "widths": (32, 64, 128),
            "chunks": 10,
            "batch_size": 128,
            "interval": 10,
            "patience": 25,
            "every": 2500,  # the thesis's CIFAR-100 schedule
            "methods": ("static_large", "adaptive", "static_small", "grow_no_freeze", "net2net"),
        },
    },
}
TOLERANCE = 0.003  # "within 0.3 points of the static large net"
SINE = (
    "static_small",
    "static_large",
    "adaptive",
    "adaptive_keep_init",
    "grow_no_freeze",
    "net2net",
    "gradmax",
)


def sine_cell(cell: dict, budget: dict) -> dict:
    from automl_kit.capacity.experiments import run_sine

    run = run_sine(cell["method"], cell["seed"], epochs=budget["epochs"], n_train=budget["n_train"])
    return {k: run[k] for k in ("final10_mean", "final10_std", "curve", "seconds", "growth_steps")}


def sine_figures(rows: list[dict]) -> dict:
    agg = []
    for method in SINE:
        mine = [r for r in rows if r["method"] == method]
        if mine:
            means = [r["final10_mean"] for r in mine]
            agg.append(
                {
                    "method": method,
                    "seeds": len(mine),
                    "final10_mean": statistics.fmean(means),
                    "final10_mean_sd_over_seeds": statistics.pstdev(means),
                    "final10_std_mean": statistics.fmean(r["final10_std"] for r in mine),
                    "seconds": statistics.fmean(r["seconds"] for r in mine),
                }
            )
    diffs = []
    for baseline in ("static_small", "static_large"):
        diffs += paired_differences(rows, metric="final10_mean", baseline=baseline, by=("task",))
    # per seed: better static net's final-10 loss / the adaptive net's (target >= 3)
    ratios = {}
    for method in SINE[2:]:
        per_seed = []
        for seed in sorted({r["seed"] for r in rows}):
            got = {r["method"]: r["final10_mean"] for r in rows if r["seed"] == seed}
            if {"static_small", "static_large", method} <= set(got):
                per_seed.append(min(got["static_small"], got["static_large"]) / got[method])
        if per_seed:
            ratios[method] = {"per_seed": per_seed, "median": statistics.median(per_seed)}
    return {"runs": rows, "table": agg, "differences": diffs, "better_static_over_method": ratios}


def _epoch_seconds(model, x, y, batch: int) -> float:
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def timing(budget: dict) -> list[dict]:
    """Seconds per step, configurations interleaved round-robin so load swings hit them all."""
    import keras

    from automl_kit.capacity import Capacity, partial_mlp, partial_mnist_convnet
    from automl_kit.capacity.experiments import mnist_convnet

    rng = np.random.default_rng(0)
    rows = []
    nets = {
        "dense 784-1024-1024-10 (batch 128)": (
            lambda: keras.Sequential(
                [
                    keras.Input((784,)),
                    keras.layers.Dense(1024, activation="relu"),
                    keras.layers.Dense(1024, activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ]
            ),
            lambda: partial_mlp(
                784,
                10,
                hidden=(1024, 1024),
                chunks=10,
                active=10,
                output_activation="softmax",
                seed=0,
            ),
            (784,),
            128,
        ),
        "MNIST conv net 7x7 32-64, 1024 (batch 50)": (
            lambda: mnist_convnet(seed=0),
            lambda: partial_mnist_convnet(chunks=10, active=10, seed=0),
            (28, 28, 1),
            50,
        ),
    }
    configs = ((1, 0), (5, 0), (10, 0), (10, 5))
    for net, (plain, partial, shape, batch) in nets.items():
        steps = budget["steps"]
        x = rng.random((batch * steps, *shape)).astype("float32")
        y = rng.integers(0, 10, len(x))
        base_model = plain()
        base_model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        model = partial()
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        capacity = Capacity(model)

        def use(config, capacity=capacity):
            active, frozen = config
            capacity.set_widths({l.name: (active, frozen) for l in capacity.growable()})

        _epoch_seconds(base_model, x, y, batch)  # trace every step once
        for config in configs:
            use(config)
            _epoch_seconds(model, x, y, batch)
        times = {"plain": [], **{c: [] for c in configs}}
        loads = []
        for _ in range(budget["repeats"]):
            times["plain"].append(_epoch_seconds(base_model, x, y, batch) / steps)
            for config in configs:
                use(config)
                times[config].append(_epoch_seconds(model, x, y, batch) / steps)
            loads.append(os.getloadavg()[0])
        base = {"min": min(times["plain"]), "median": statistics.median(times["plain"])}
        load = statistics.fmean(loads)
        rows.append({"net": net, "config": "plain full width", **base, "load": load})
        for config in configs:
            got = {"min": min(times[config]), "median": statistics.median(times[config])}
            rows.append(
                {
                    "net": net,
                    "config": f"partial {config[0] * 10}% active, {config[1] * 10}% frozen",
                    **got,
                    "ratio_to_plain_min": got["min"] / base["min"],
                    "ratio_to_plain_median": got["median"] / base["median"],
                    "load": load,
                }
            )
        for row in rows[-5:]:
            print(
                f"{net}: {row['config']}: {row['min'] * 1e3:.2f} ms/step (min), "
                f"{row['median'] * 1e3:.2f} (median), load {row['load']:.1f}",
                flush=True,
            )
    return rows


def mnist_cell(cell: dict, budget: dict, data_of) -> dict:
    from automl_kit.capacity.experiments import run_mnist

    run = run_mnist(
        cell["method"],
        data_of(cell["seed"]),
        cell["seed"],
        epochs=budget["epochs"],
        filters=budget["filters"],
        dense=budget["dense"],
        interval=budget["interval"],
    )
    return {
        k: run[k]
        for k in (
            "final10_mean",
            "final10_std",
            "samples",
            "test_loss",
            "test_accuracy",
            "seconds",
            "growth_steps",
        )
    }


def mnist_figures(rows: list[dict]) -> dict:
    agg = []
    for method in ("standard", "adaptive"):
        mine = [r for r in rows if r["method"] == method]
        if mine:
            agg.append(
                {
                    "method": method,
                    "seeds": len(mine),
                    "final10_mean": statistics.fmean(r["final10_mean"] for r in mine),
                    "final10_std_mean": statistics.fmean(r["final10_std"] for r in mine),
                    "test_accuracy": statistics.fmean(r["test_accuracy"] for r in mine),
                    "seconds": statistics.fmean(r["seconds"] for r in mine),
                }
            )
    diffs = []
    for metric in ("final10_mean", "test_accuracy", "seconds"):
        diffs += paired_differences(rows, metric=metric, baseline="standard", by=("task",))
    return {"runs": rows, "table": agg, "differences": diffs}


def cifar_cell(cell: dict, budget: dict, data) -> dict:
    from automl_kit.capacity.experiments import run_cifar
    from automl_kit.training import Recipe

    run = run_cifar(
        cell["method"],
        data,
        cell["seed"],
        epochs=budget["epochs"],
        batch_size=budget["batch_size"],
        widths=budget["widths"],
        chunks=budget["chunks"],
        patience=budget["patience"],
        interval=budget["interval"],
        every=budget["every"],
        normalize=budget.get("normalize", False),
        recipe=Recipe() if budget.get("recipe") else None,
    )
    keep = ("test_accuracy", "train_accuracy", "gap", "test_loss", "seconds", "flops", "curve")
    return {
        **{k: run[k] for k in keep},
        "growth_steps": run["growth_steps"],
        "load": os.getloadavg()[0],
    }


def cifar_figures(rows: list[dict]) -> dict:
    """Per method: accuracy, gap, cost; per seed: the cost of reaching static large's accuracy."""
    from automl_kit.capacity.experiments import cost_to_reach

    agg = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        agg.append(
            {
                "method": method,
                "seeds": len(mine),
                **{
                    k: statistics.fmean(r[k] for r in mine)
                    for k in ("test_accuracy", "train_accuracy", "gap", "seconds", "flops")
                },
                "growths": statistics.fmean(len(r["growth_steps"]) for r in mine),
            }
        )
    diffs = []
    for metric in ("test_accuracy", "gap", "seconds", "flops"):
        for d in paired_differences(rows, metric=metric, baseline="static_large", by=("task",)):
            diffs.append({**d, "metric": metric})
    reach = []
    for row in rows:
        if row["method"] == "static_large":
            continue
        large = next(
            (r for r in rows if r["method"] == "static_large" and r["seed"] == row["seed"]), None
        )
        if large is None:
            continue
        goal = large["test_accuracy"] - TOLERANCE
        got = cost_to_reach(row["curve"], goal)
        reach.append(
            {
                "method": row["method"],
                "seed": row["seed"],
                "goal": goal,
                "reached_epoch": got["epoch"] if got else None,
                "seconds_ratio": got["seconds"] / large["seconds"] if got else None,
                "flops_ratio": got["flops"] / large["flops"] if got else None,
            }
        )
    return {"runs": rows, "table": agg, "differences": diffs, "reach_static_large": reach}


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--parts",
        default="sine,timing,mnist,cifar",
        help="comma-separated: sine, timing, mnist, cifar",
    )
    p.add_argument("--methods", default=",".join(SINE), help="sine methods")
    p.add_argument("--cifar-methods", default=None, help="cifar methods (default: the budget's)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    p.add_argument("--resume", action="store_true", help="keep finished runs of the output JSON")
    p.add_argument(
        "--normalize",
        action="store_true",
        help="cifar: batch-normalise every convolution (the growers with frozen-slice statistics)",
    )
    p.add_argument(
        "--recipe",
        action="store_true",
        help="cifar: train with the shared recipe (AdamW, cosine, flips and shifts, batch 64)",
    )
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    for flag in ("normalize", "recipe"):
        if getattr(args, flag):
            budget = {**budget, "cifar": {**budget["cifar"], flag: True}}
    parts = args.parts.split(",")
    if args.out and len(parts) > 1:
        raise SystemExit("--out names one results file: pass it with a single --parts.")
    load_before = os.getloadavg()
    print(
        f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True
    )
    if "sine" in parts:
        b = budget["sine"]
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else b["seeds"]
        cells = [
            {"task": "sine", "method": m, "seed": s} for s in seeds for m in args.methods.split(",")
        ]
        grid = run_grid(
            "capacity-sine",
            cells,
            lambda c: sine_cell(c, b),
            out=args.out or RESULTS / f"capacity-sine-{args.budget}.json",
            resume=args.resume,
            budget=args.budget,
            figures=lambda rows: {"protocol": b, **sine_figures(rows)},
            on_row=lambda r, g: print(
                f"sine/{r['method']}/{r['seed']}: final-10 {r['final10_mean']:.5f} +- "
                f"{r['final10_std']:.5f}, {r['seconds']:.1f} s, growth at {r['growth_steps']}",
                flush=True,
            ),
        )
        figures = sine_figures(grid.rows)
        print(table(figures["table"], list(figures["table"][0])))
        print(table(figures["differences"], ["method", "baseline", *DIFFERENCE_COLUMNS]))
        for method, r in figures["better_static_over_method"].items():
            print(
                f"better static / {method}: median {r['median']:.2f}, per seed "
                f"{[round(v, 2) for v in r['per_seed']]}"
            )
    if "timing" in parts:
        rows = timing(budget["timing"])
        path = save(
            "capacity-timing",
            args.budget,
            {
                "protocol": budget["timing"],
                "rows": rows,
                "load_before": load_before,
                "load_after": os.getloadavg(),
            },
        )
        print(
            table(
                rows,
                [
                    "net",
                    "config",
                    "min",
                    "median",
                    "ratio_to_plain_min",
                    "ratio_to_plain_median",
                    "load",
                ],
            )
        )
        print(f"wrote {path}")
    if "mnist" in parts:
        from automl_kit.datasets import load

        b = budget["mnist"]
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else b["seeds"]
        cache = {}

        def data_of(seed):
            if seed not in cache:
                cache.clear()
                cache[seed] = load("mnist", n_train=b["n_train"], n_test=2000, seed=seed)
            return cache[seed]

        cells = [
            {"task": "mnist", "method": m, "seed": s}
            for s in seeds
            for m in ("standard", "adaptive")
        ]
        grid = run_grid(
            "capacity-mnist",
            cells,
            lambda c: mnist_cell(c, b, data_of),
            out=args.out or RESULTS / f"capacity-mnist-{args.budget}.json",
            resume=args.resume,
            budget=args.budget,
            figures=lambda rows: {"protocol": b, **mnist_figures(rows)},
            on_row=lambda r, g: print(
                f"mnist/{r['method']}/{r['seed']}: final-10 {r['final10_mean']:.5f} +- "
                f"{r['final10_std']:.5f}, test acc {r['test_accuracy']:.4f}, {r['seconds']:.1f} s, "
                f"growth at {r['growth_steps']}",
                flush=True,
            ),
        )
        figures = mnist_figures(grid.rows)
        print(table(figures["table"], list(figures["table"][0])))
        print(table(figures["differences"], ["method", "metric", *DIFFERENCE_COLUMNS]))
    if "cifar" in parts:
        from automl_kit.datasets import load

        b = budget["cifar"]
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else b["seeds"]
        # one data split for every seed: the seeds vary initial weights and batch order
        data = load("cifar10", seed=0)
        methods = args.cifar_methods.split(",") if args.cifar_methods else b["methods"]
        cells = [{"task": "cifar10", "method": m, "seed": s} for s in seeds for m in methods]
        grid = run_grid(
            "capacity-cifar",
            cells,
            lambda c: cifar_cell(c, b, data),
            out=args.out or RESULTS / f"capacity-cifar-{args.budget}.json",
            resume=args.resume,
            budget=args.budget,
            figures=lambda rows: {
                "protocol": b,
                "n_train": len(data.x_train),
                "n_test": len(data.x_test),
                **cifar_figures(rows),
            },
            on_row=lambda r, g: print(
                f"cifar/{r['method']}/{r['seed']}: test acc {r['test_accuracy']:.4f}, gap "
                f"{r['gap']:+.4f}, {r['seconds']:.1f} s, {r['flops']:.3g} FLOPs, growth at "
                f"{r['growth_steps']}, load {r['load']:.1f}",
                flush=True,
            ),
        )
        figures = cifar_figures(grid.rows)
        print(table(figures["table"], list(figures["table"][0])))
        print(table(figures["differences"], ["method", "metric", *DIFFERENCE_COLUMNS]))
        print(table(figures["reach_static_large"], list(figures["reach_static_large"][0])))
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
