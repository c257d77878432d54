"""PK-GCN on small data: the class-similarity head against the base CNN and two controls (issue 13).

Xiao's thesis, Part 4, Tables 4.4 (MNIST) and 4.5 (CIFAR-10). Per data set, base model, size n
(n class-balanced training images | n class-balanced validation images, both from the official
training set, disjoint, drawn anew for every seed) and seed, ONE stage-1 model is trained
(``stage1`` epochs, AdaDelta as ``automl_kit.knowledge.experiments.make_optimizer`` sets it:
lr 1.0, rho 0.9, eps 1e-6); from a copy of it every arm continues for ``stage2`` epochs with a
fresh AdaDelta, the same batches and the same data (the protocol of
``knowledge.compare_two_stage``, run here step by step to also study the stage-1 graphs):

* ``base``     the original CNN, unchanged (stage1 + stage2 epochs in all: the thesis's
               "same number of epochs, same optimizer" baseline);
* ``pkgcn1``   the PK-GCN-1 head (thesis Eq. 4.4) over the validation misclassification graph
               (hard counts as rates, symmetric direction: the library's defaults);
* ``pkgcn2``   the PK-GCN-2 head (Eq. 4.5);
* ``pkgcn1_soft`` PK-GCN-1 over the soft-count graph (summed predicted probabilities), since a
               small validation set gives few hard mistakes (``full`` budget or ``--methods``);
* ``pkgcn1_warm``, ``pkgcn2_warm`` the heads with ``initializer="warm"`` (not in the thesis: on
               a graph without edges the head starts as the stage-1 classifier, d . c_i; only with
               ``--methods``);
* ``control``  the capacity-matched control (the library's ``"dense_control"``): an extra
               ``Dense(m, relu)`` and a new ``Dense(K)`` with about the PK-GCN-1 head's parameter
               count, trained the same two-stage way;
* ``smooth``   label smoothing 0.1 in stage 2 (soft targets, no graph).

So a gain of PK-GCN over ``control`` and ``smooth`` is one the class graph brings, not extra
parameters, a second stage or softer targets. Every arm is scored on the full test set (MNIST:
10,000 images; the offline CIFAR-10 subset: 1,000). Paired per-seed differences against
``base`` and ``control`` with bootstrap 95% intervals.

Graph quality: for the stage-1 model of every cell, misclassification graphs from nested
class-balanced subsets of the validation pool (60 ... 3,000 images): edges with hard counts
(>= 1 mistake) and with soft counts (rate >= ``SOFT_EDGE``), and the cosine similarity of each
graph's off-diagonal rates to the same kind of graph of the same model on the whole test set
(how well a small validation set estimates which classes the model confuses).

    python -m benchmarks.pkgcn_small_data --budget small      # ~25 min on 2 shared CPU cores
    python -m benchmarks.pkgcn_small_data --budget full       # Table 4.4/4.5 sizes, 200/300 epochs
    python -m benchmarks.pkgcn_small_data --datasets mnist --models bm1 --sizes 300 --seeds 0 \\
        --epochs 2,2 --out /tmp/pkgcn.json                      # a smoke run
"""

from __future__ import annotations

import os
import statistics
import time
from functools import lru_cache

import numpy as np

from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    ints,
    paired_differences,
    parser,
    run_grid,
    table,
)

NAME = "pkgcn_small_data"
# The thesis: base model 1 40+160 epochs, base model 2 80+120, VGG-11 on CIFAR-10 100+200
# (Sections 4.5.3/4.5.4). The small budget keeps each model's stage ratio at a fraction of the
# length (the base models are near their plateau by then: bm1 at 300 images gives 84.8% after
# 20 epochs and 85.4% after 60; the thesis's 200 epochs give 85.3%) and drops what 2 shared CPU
# cores cannot afford in 25 minutes: base model 2 (the PyTorch-example layout, 2-4x the cost of
# base model 1 per image; run it with ``--models bm2 --sizes 300,500``) and CIFAR-10 beyond one
# size.
BUDGETS = {
    "small": {
        "datasets": {
            "mnist": {"models": {"bm1": (300, 500, 1000)}, "seeds": (0, 1, 2, 3, 4)},
            "cifar10": {"models": {"vgg": (500,)}, "seeds": (0, 1, 2)},
        },
        "epochs": {"bm1": (5, 20), "bm2": (10, 15), "vgg": (4, 8)},
        "vgg_widths": (16, 32, 64),
        "batch_size": 32,
        "methods": ("base", "pkgcn1", "pkgcn2", "control", "smooth"),
        "minutes": 25,
    },
    "full": {
        "datasets": {
            "mnist": {
                "models": {
                    "bm1": (300, 500, 1000, 1500, 2000, 2500, 3000),
                    "bm2": (300, 500, 1000, 1500, 2000, 2500, 3000),
                },
                "seeds": (0, 1, 2, 3, 4),
            },
            # the offline subset has 4,000 training images: 1,500 | 1,500 is the largest split
            "cifar10": {"models": {"vgg": (300, 500, 1000, 1500)}, "seeds": (0, 1, 2, 3, 4)},
        },
        "epochs": {"bm1": (40, 160), "bm2": (80, 120), "vgg": (100, 200)},
        "vgg_widths": (32, 64, 128),
        "batch_size": 32,
        "methods": ("base", "pkgcn1", "pkgcn2", "pkgcn1_soft", "control", "smooth"),
        "minutes": None,
    },
}
MODELS = {"mnist": ("bm1", "bm2"), "cifar10": ("vgg",)}
METHODS = (
    "base",
    "pkgcn1",
    "pkgcn2",
    "pkgcn1_soft",
    "pkgcn1_warm",
    "pkgcn2_warm",
    "control",
    "smooth",
)
# share of a validation pool held out of the training pool (balanced draws come from each)
VAL_POOL = {"mnist": 6_000, "cifar10": 2_000}
GRAPH_SIZES = (60, 100, 300, 1000, 3000)  # validation sizes of the graph-quality study
SOFT_EDGE = 0.01  # a soft-count edge: at least 1% of class i's probability mass on class j
LABEL_SMOOTHING = 0.1
TARGET_SIZE = 1000  # the issue's target concerns sizes <= 1000
TARGET_GAIN = 0.5  # points


class DeadlineReached(RuntimeError):
    """A cell the time budget left no room for (recorded under "failed"; ``--resume`` runs it)."""


# ---- data ------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def pools(dataset: str):
    """The data set's training pool, validation pool (both from the official training set) and
    test set; the balanced per-seed draws of each cell come from the two pools."""
    from automl_kit.datasets import load

    return load(dataset, n_val=VAL_POOL[dataset], seed=0)


def balanced(y: np.ndarray, n: int, rng: np.random.Generator, k: int) -> np.ndarray:
    """Indices of ``n`` samples of ``y``, ``n // k`` per class (the remainder to the first
    classes), in random order; ValueError when a class has too few."""
    quota = np.full(k, n // k) + (np.arange(k) < n % k)
    picked = []
    for c in range(k):
        members = np.flatnonzero(y == c)
        if len(members) < quota[c]:
            raise ValueError(
                f"class {c} has {len(members)} samples, {quota[c]} needed for a balanced draw of "
                f"{n}; choose a smaller size."
            )
        picked.append(rng.choice(members, quota[c], replace=False))
    idx = np.concatenate(picked)
    rng.shuffle(idx)
    return idx


def cell_data(dataset: str, size: int, seed: int):
    """(x_train, y_train, x_val, y_val, x_test, y_test) of one cell: ``size`` balanced training
    images from the training pool and ``size`` balanced validation images from the validation
    pool, drawn with ``seed`` (the validation draw also depends on ``size``)."""
    data = pools(dataset)
    rng = np.random.default_rng(seed)
    k = data.num_classes
    tr = balanced(data.y_train, size, rng, k)
    va = balanced(data.y_val, size, np.random.default_rng([seed, size]), k)
    return (
        data.x_train[tr],
        data.y_train[tr],
        data.x_val[va],
        data.y_val[va],
        data.x_test,
        data.y_test,
    )


# ---- models ----------------------------------------------------------------------------------


def build_base(model: str, input_shape, k: int, seed: int, budget: dict):
    import keras

    from automl_kit.knowledge import base_cnn, small_vgg

    keras.utils.set_random_seed(seed)
    if model == "vgg":
        return small_vgg(input_shape, k, widths=budget["vgg_widths"])
    return base_cnn(input_shape, k, n_conv={"bm1": 1, "bm2": 2}[model])


def compile_model(model, *, smoothing: float = 0.0):
    """A fresh AdaDelta (the library's: lr 1.0, rho 0.9, eps 1e-6) and cross-entropy."""
    import keras

    from automl_kit.knowledge.experiments import make_optimizer

    model.compile(
        make_optimizer("adadelta"),
        keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
        metrics=["accuracy"],
    )
    return model


def copy_of(model):
    """A fresh model with ``model``'s architecture and weights (no shared layers)."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def dense_control(model, match_variant: int = 1):
    """The capacity-matched control of ``knowledge.experiments`` (head ``"dense_control"``):
    ``Dense(m, relu)`` + a new ``Dense(K, softmax)`` in place of the head, ``m`` chosen for about
    the PK-GCN-``match_variant`` head's parameter count; random start, like PK-GCN's GCN."""
    import keras

    from automl_kit.knowledge.experiments import control_width, head_parameters
    from automl_kit.utils.models import classification_head, replace_head

    old = classification_head(model)
    n, k = int(old.kernel.shape[0]), old.units
    width = control_width(n, k, head_parameters(n, k, match_variant, None))

    def build(features):
        hidden = keras.layers.Dense(width, activation="relu", name="control_hidden")(features)
        return keras.layers.Dense(k, activation="softmax", name="control_classifier")(hidden)

    return replace_head(model, build)


def probabilities(model, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """Eager inference in batches (no predict-function tracing per model: cheaper on CPU)."""
    import keras

    parts = [
        keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(parts)


def accuracy(model, x, y) -> float:
    return float((probabilities(model, x).argmax(axis=1) == y).mean())


# ---- the graph study -------------------------------------------------------------------------


def offdiagonal(graph: np.ndarray) -> np.ndarray:
    return graph[~np.eye(len(graph), dtype=bool)]


def cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return None if na == 0 or nb == 0 else float(a @ b / (na * nb))


def graph_stats(y: np.ndarray, p: np.ndarray, reference: dict) -> dict:
    """Edges of the hard and soft graphs of predictions ``p`` on labels ``y``, and the cosine of
    each to the same kind of graph on the whole test set (``reference["hard"|"soft"]``)."""
    from automl_kit.knowledge import count_edges, graph_from_predictions

    hard = graph_from_predictions(y, p, soft=False, normalize="rate")
    soft = graph_from_predictions(y, p, soft=True, normalize="rate")
    counts = graph_from_predictions(y, p, soft=False, normalize="count")
    return {
        "hard_edges": count_edges(hard),
        "hard_mistakes": int(counts.sum()),
        "soft_edges": count_edges(soft, threshold=SOFT_EDGE),
        "hard_cosine": cosine(offdiagonal(hard), offdiagonal(reference["hard"])),
        "soft_cosine": cosine(offdiagonal(soft), offdiagonal(reference["soft"])),
    }


def graph_study(model, dataset: str, seed: int, reference: dict, k: int) -> list[dict]:
    """Graph quality of ``model`` by validation size: nested balanced subsets of the val pool."""
    data = pools(dataset)
    largest = min(int(np.bincount(data.y_val, minlength=k).min()) * k, max(GRAPH_SIZES))
    order = balanced(data.y_val, largest, np.random.default_rng([seed, 7]), k)
    # nested subsets: balanced prefixes of a class-interleaved order
    by_class = [order[data.y_val[order] == c] for c in range(k)]
    interleaved = np.array([i for group in zip(*by_class) for i in group])
    p = probabilities(model, data.x_val[interleaved])
    y = data.y_val[interleaved]
    return [
        {"val_size": n, **graph_stats(y[:n], p[:n], reference)}
        for n in GRAPH_SIZES
        if n <= len(interleaved)
    ]


# ---- one cell --------------------------------------------------------------------------------


def run_once(dataset: str, model_name: str, size: int, seed: int, budget: dict, methods) -> dict:
    import keras

    from automl_kit.knowledge import (
        add_class_similarity_head,
        graph_from_predictions,
        misclassification_graph,
    )

    x_tr, y_tr, x_va, y_va, x_te, y_te = cell_data(dataset, size, seed)
    k = int(pools(dataset).num_classes)
    onehot = keras.utils.to_categorical(y_tr, k)
    stage1_epochs, stage2_epochs = budget["epochs"][model_name]
    batch = budget["batch_size"]
    started = time.perf_counter()

    stage1 = compile_model(build_base(model_name, x_tr.shape[1:], k, seed, budget))
    keras.utils.set_random_seed(seed)
    stage1.fit(x_tr, onehot, epochs=stage1_epochs, batch_size=batch, verbose=0)
    p_test = probabilities(stage1, x_te)
    reference = {
        kind: graph_from_predictions(y_te, p_test, soft=kind == "soft") for kind in ("hard", "soft")
    }
    graphs = {
        kind: misclassification_graph(stage1, x_va, y_va, soft=kind == "soft")
        for kind in ("hard", "soft")
    }
    row = {
        "stage1_test_acc": float((p_test.argmax(axis=1) == y_te).mean()),
        "stage1_val_acc": accuracy(stage1, x_va, y_va),
        "base_parameters": int(stage1.count_params()),
        "graph": graph_stats(y_va, probabilities(stage1, x_va), reference),
        "graph_study": graph_study(stage1, dataset, seed, reference, k),
    }
    row["stage1_seconds"] = time.perf_counter() - started

    for name in methods:
        t = time.perf_counter()
        model = copy_of(stage1)
        if name.startswith("pkgcn"):
            graph = graphs["soft" if name.endswith("_soft") else "hard"]
            init = "warm" if name.endswith("_warm") else "glorot_uniform"
            model = add_class_similarity_head(model, graph, variant=int(name[5]), initializer=init)
        elif name == "control":
            model = dense_control(model)
        compile_model(model, smoothing=LABEL_SMOOTHING if name == "smooth" else 0.0)
        keras.utils.set_random_seed(1000 + seed)  # the same stage-2 batches for every arm
        model.fit(x_tr, onehot, epochs=stage2_epochs, batch_size=batch, verbose=0)
        row[f"acc_{name}"] = accuracy(model, x_te, y_te)
        row[f"params_{name}"] = int(model.count_params() - stage1.count_params())
        row[f"seconds_{name}"] = time.perf_counter() - t
    row["seconds"] = time.perf_counter() - started
    row["load_average"] = os.getloadavg()[0]
    return row


# ---- figures ---------------------------------------------------------------------------------

GROUP = ("dataset", "model", "size")
CELL = (*GROUP, "seed")


def arm_rows(rows: list[dict]) -> list[dict]:
    return [
        {**{g: r[g] for g in GROUP}, "seed": r["seed"], "method": m, "accuracy": r[f"acc_{m}"]}
        for r in rows
        for m in METHODS
        if f"acc_{m}" in r
    ]


def figures(rows: list[dict]) -> dict:
    arms = arm_rows(rows)
    summary = []
    for group in dict.fromkeys(tuple(a[g] for g in GROUP) for a in arms):
        members = [a for a in arms if tuple(a[g] for g in GROUP) == group]
        for m in dict.fromkeys(a["method"] for a in members):
            acc = [100 * a["accuracy"] for a in members if a["method"] == m]
            summary.append(
                {
                    **dict(zip(GROUP, group)),
                    "method": m,
                    "seeds": len(acc),
                    "mean": statistics.fmean(acc),
                    "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                }
            )
    differences = []
    for baseline in ("base", "control"):
        differences += paired_differences(
            arms, metric="accuracy", baseline=baseline, by=GROUP, scale=100
        )
    graph_rows = [
        {**{g: r[g] for g in GROUP}, "seed": r["seed"], **s}
        for r in rows
        for s in r.get("graph_study", [])
    ]
    graph = []
    for key in dict.fromkeys((g["dataset"], g["model"], g["val_size"]) for g in graph_rows):
        members = [g for g in graph_rows if (g["dataset"], g["model"], g["val_size"]) == key]

        def mean(field, members=members):
            values = [m[field] for m in members if m.get(field) is not None]
            return statistics.fmean(values) if values else None

        graph.append(
            {
                "dataset": key[0],
                "model": key[1],
                "val_size": key[2],
                "n": len(members),
                **{
                    f: mean(f)
                    for f in (
                        "hard_edges",
                        "hard_mistakes",
                        "soft_edges",
                        "hard_cosine",
                        "soft_cosine",
                    )
                },
            }
        )
    return {
        "runs": rows,
        "summary": summary,
        "differences": differences,
        "graph_quality": graph,
        "targets": targets(differences),
    }


def targets(differences: list[dict]) -> list[dict]:
    """Per MNIST group of size <= 1000 and PK-GCN variant: ahead of base and control by the
    mean, with a mean gain over base of at least ``TARGET_GAIN`` points."""
    out = []
    for d in differences:
        if d["dataset"] != "mnist" or d["size"] > TARGET_SIZE or d["baseline"] != "base":
            continue
        if not d["method"].startswith("pkgcn"):
            continue
        vs_control = next(
            (
                c
                for c in differences
                if c["baseline"] == "control"
                and c["method"] == d["method"]
                and all(c[g] == d[g] for g in GROUP)
            ),
            None,
        )
        out.append(
            {
                **{g: d[g] for g in GROUP},
                "method": d["method"],
                "gain_vs_base": d["mean_diff"],
                "gain_vs_control": None if vs_control is None else vs_control["mean_diff"],
                "met": d["mean_diff"] >= TARGET_GAIN
                and vs_control is not None
                and vs_control["mean_diff"] > 0,
            }
        )
    return out


def markdown(result: dict) -> str:
    """The README tables: accuracy mean +- std per arm, then paired differences with intervals."""
    lines = []
    groups = dict.fromkeys(tuple(s[g] for g in GROUP) for s in result["summary"])
    methods = [m for m in METHODS if any(s["method"] == m for s in result["summary"])]
    lines.append("| data | model | n train/val | " + " | ".join(methods) + " |")
    lines.append("| --- | --- | --- | " + " | ".join("---" for _ in methods) + " |")
    for group in groups:
        cells = []
        for m in methods:
            s = next(
                (
                    s
                    for s in result["summary"]
                    if tuple(s[g] for g in GROUP) == group and s["method"] == m
                ),
                None,
            )
            cells.append("" if s is None else f"{s['mean']:.2f} ± {s['std']:.2f}")
        lines.append(f"| {group[0]} | {group[1]} | {group[2]} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| data | model | n | arm | vs base [95% CI] | vs control [95% CI] |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for group in groups:
        for m in methods:
            if m in ("base", "control"):
                continue
            text = []
            for baseline in ("base", "control"):
                d = next(
                    (
                        d
                        for d in result["differences"]
                        if d["baseline"] == baseline
                        and d["method"] == m
                        and tuple(d[g] for g in GROUP) == group
                    ),
                    None,
                )
                text.append(
                    ""
                    if d is None
                    else f"{d['mean_diff']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]"
                )
            lines.append(f"| {group[0]} | {group[1]} | {group[2]} | {m} | {text[0]} | {text[1]} |")
    if result["graph_quality"]:
        lines.append("")
        lines.append(
            "| data | model | val size | hard edges | mistakes | soft edges (>= 1%) | "
            "cosine to test graph, hard | soft |"
        )
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for g in result["graph_quality"]:
            hc = "" if g["hard_cosine"] is None else f"{g['hard_cosine']:.2f}"
            sc = "" if g["soft_cosine"] is None else f"{g['soft_cosine']:.2f}"
            lines.append(
                f"| {g['dataset']} | {g['model']} | {g['val_size']} | {g['hard_edges']:.1f} | "
                f"{g['hard_mistakes']:.1f} | {g['soft_edges']:.1f} | {hc} | {sc} |"
            )
    return "\n".join(lines)


# ---- command line ----------------------------------------------------------------------------


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", default=None, help="comma-separated (default: the budget's)")
    p.add_argument("--models", default=None, help="comma-separated subset of bm1,bm2,vgg")
    p.add_argument("--sizes", default=None, help="comma-separated train|val sizes")
    p.add_argument("--seeds", default=None, help="comma-separated seeds")
    p.add_argument("--methods", default=None, help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument(
        "--epochs", default=None, help="stage1,stage2 for every model (default: budget's)"
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="start no cell after this many minutes (default: the budget's; 0: no limit)",
    )
    p.add_argument("--resume", action="store_true", help="keep finished cells of the output JSON")
    args = p.parse_args(argv)
    budget = {**BUDGETS[args.budget]}
    if args.epochs:
        e1, e2 = ints(args.epochs)
        budget["epochs"] = {m: (e1, e2) for m in budget["epochs"]}
    methods = tuple(args.methods.split(",")) if args.methods else budget["methods"]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or "base" not in methods:
        raise SystemExit(
            f"--methods must include base and come from {', '.join(METHODS)}; got {unknown}"
        )
    datasets = args.datasets.split(",") if args.datasets else list(budget["datasets"])
    cells = []
    for dataset in datasets:  # seed-major per data set: a deadline cuts seeds, not sizes
        spec = budget["datasets"].get(dataset) or BUDGETS["full"]["datasets"][dataset]
        models = args.models.split(",") if args.models else list(spec["models"])
        for seed in ints(args.seeds) or spec["seeds"]:
            for model in (m for m in models if m in MODELS[dataset]):
                for size in ints(args.sizes) or spec["models"].get(model, ()):
                    cells.append({"dataset": dataset, "model": model, "size": size, "seed": seed})
    out = args.out or str(RESULTS / f"{NAME}-{args.budget}.json")
    load_before = os.getloadavg()
    print(f"{len(cells)} cells; load average {load_before}", flush=True)

    minutes = args.minutes if args.minutes is not None else budget["minutes"]
    deadline = None if not minutes else time.monotonic() + 60 * minutes

    def run_cell(cell: dict) -> dict:
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineReached(f"not started: the {minutes}-minute budget was spent")
        return run_once(cell["dataset"], cell["model"], cell["size"], cell["seed"], budget, methods)

    def on_row(row: dict, grid) -> None:
        accs = " ".join(f"{m} {100 * row[f'acc_{m}']:.2f}" for m in methods if f"acc_{m}" in row)
        edges = row.get("graph", {})
        print(
            f"{row['dataset']}/{row['model']}/{row['size']}/{row['seed']}: {accs}; "
            f"edges hard {edges.get('hard_edges')} soft {edges.get('soft_edges')}; "
            f"{row['seconds']:.0f} s, load {row['load_average']:.2f}",
            flush=True,
        )

    wanted = {tuple(c.values()) for c in cells}

    def rows_from(saved: dict) -> list[dict]:
        # on --resume keep the finished rows of this grid only (a narrower rerun drops the rest)
        return [r for r in saved.get("runs", []) if tuple(r[f] for f in CELL) in wanted]

    started = time.perf_counter()
    grid = run_grid(
        NAME,
        cells,
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        figures=lambda rows: {
            **figures(rows),
            "protocol": {
                **{k: v for k, v in budget.items() if k != "datasets"},
                "methods": list(methods),
                "optimizer": "adadelta (lr 1.0, rho 0.9, eps 1e-6), fresh for stage 2",
                "label_smoothing": LABEL_SMOOTHING,
                "soft_edge": SOFT_EDGE,
                "load_average_before": load_before,
            },
        },
        on_row=on_row,
        rows_from=rows_from,
    )
    result = figures(grid.rows)
    print()
    print(table(result["summary"], [*GROUP, "method", "seeds", "mean", "std"]))
    print()
    print(table(result["differences"], [*GROUP, "method", "baseline", *DIFFERENCE_COLUMNS]))
    print()
    print(markdown(result))
    print(
        f"\nwall {time.perf_counter() - started:.0f} s; load average before {load_before}, "
        f"after {os.getloadavg()}; results: {grid.path}"
    )
    skipped = [f for f in grid.failed if "DeadlineReached" in f["error"]]
    if skipped:
        print(f"{len(skipped)} cells not run (deadline); finish them with --resume", flush=True)
    if len(skipped) < len(grid.failed):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
