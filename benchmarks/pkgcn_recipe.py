"""PK-GCN on the shared recipe against its rivals, and what the command returns (issue 25).

The protocol of ``knowledge.compare_two_stage`` as ``automl-kit pkgcn`` runs it: per MNIST size n
(n class-balanced training | n class-balanced validation images, the draws of
``benchmarks.pkgcn_small_data``) and seed, ONE stage-1 model (base model 1, ``recipe``
optimizer: AdamW, warm-up and cosine decay) and from copies of it every head for the stage-2
epochs with a fresh recipe schedule and the same batches:

* ``none``               the base CNN trained on (same epochs);
* ``pkgcn1``, ``pkgcn2`` the class-graph heads (Eq. 4.4 / 4.5);
* ``dense_control``      the capacity-matched control;
* ``label_smoothing``    label smoothing 0.1 (the simpler rival);
* ``pkgcn1_smoothed``    PK-GCN-1 trained with label smoothing;
* ``self_distillation``  the labels mixed with the model's own softened stage-1 predictions.

``kept`` is what the command keeps (``knowledge.experiments.choose_head``: label smoothing unless
another head beats it on validation by more than one standard error); ``best_val`` is the head
with the best validation accuracy (the rule before 2026-12-07); both scored on the test set. Test accuracy on MNIST's 10,000 test images; paired per-seed differences against label
smoothing and the base CNN with bootstrap 95% intervals.

    taskset -c 1 python -m benchmarks.pkgcn_recipe --budget small      # ~15 min on one core
    python -m benchmarks.pkgcn_recipe --sizes 300 --seeds 0 --epochs 1,1 --out /tmp/p.json
"""

from __future__ import annotations

import os
import statistics
import time

from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    ints,
    paired_differences,
    parser,
    run_grid,
    table,
)

NAME = "pkgcn_recipe"
HEADS = (
    "none",
    "pkgcn1",
    "pkgcn2",
    "dense_control",
    "label_smoothing",
    "pkgcn1_smoothed",
    "self_distillation",
)
PKGCN_ARMS = ("pkgcn1", "pkgcn2", "pkgcn1_smoothed")
BUDGETS = {
    "small": {"sizes": (300, 500, 1000), "seeds": (0, 1, 2, 3, 4), "epochs": (10, 10)},
    "full": {"sizes": (300, 500, 1000, 2000, 3000), "seeds": (0, 1, 2, 3, 4), "epochs": (40, 40)},
}
BATCH_SIZE = 32
GROUP = ("size",)


def run_once(size: int, seed: int, epochs: tuple[int, int]) -> dict:
    from automl_kit.knowledge import base_cnn, compare_two_stage
    from benchmarks.pkgcn_small_data import cell_data

    x_tr, y_tr, x_va, y_va, x_te, y_te = cell_data("mnist", size, seed)
    started = time.perf_counter()
    result = compare_two_stage(
        lambda: base_cnn(x_tr.shape[1:], 10, n_conv=1),
        {
            "x_train": x_tr,
            "y_train": y_tr,
            "x_val": x_va,
            "y_val": y_va,
            "x_test": x_te,
            "y_test": y_te,
        },
        heads=HEADS,
        stage1_epochs=epochs[0],
        stage2_epochs=epochs[1],
        optimizer="recipe",
        batch_size=BATCH_SIZE,
        seed=seed,
    )
    heads = result["heads"]
    return {
        "stage1_test_acc": result["stage1"]["test_accuracy"],
        "graph_edges": result["graph_edges"],
        **{f"acc_{h}": heads[h]["test_accuracy"] for h in HEADS},
        **{f"val_{h}": heads[h]["val_accuracy"] for h in HEADS},
        **{f"seconds_{h}": heads[h]["stage2_seconds"] for h in HEADS},
        "stage1_seconds": result["stage1"]["seconds"],
        "seconds": time.perf_counter() - started,
        "load_average": os.getloadavg()[0],
    }


def arm_rows(rows: list[dict]) -> list[dict]:
    """One row per (cell, arm), plus the heads a selection rule would have returned: ``kept``
    (the command's rule) and ``best_val`` (the best validation accuracy)."""
    from automl_kit.knowledge.experiments import choose_head

    out = []
    for r in rows:
        cell = {"size": r["size"], "seed": r["seed"]}
        for h in HEADS:
            out.append({**cell, "method": h, "accuracy": r[f"acc_{h}"]})
        val = {h: r[f"val_{h}"] for h in HEADS}
        for name, head in (
            ("kept", choose_head(val, r["size"], "label_smoothing")),
            ("best_val", max(HEADS, key=lambda h: val[h])),
        ):
            out.append({**cell, "method": name, "accuracy": r[f"acc_{head}"], "head": head})
    return out


def figures(rows: list[dict]) -> dict:
    arms = arm_rows(rows)
    summary = []
    for size in sorted({a["size"] for a in arms}):
        kept = [a["head"] for a in arms if a["size"] == size and a["method"] == "kept"]
        for m in [*HEADS, "kept", "best_val"]:
            acc = [100 * a["accuracy"] for a in arms if a["size"] == size and a["method"] == m]
            if acc:
                summary.append(
                    {
                        "size": size,
                        "method": m,
                        "seeds": len(acc),
                        "mean": statistics.fmean(acc),
                        "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                        "kept": kept.count(m),
                        "stage2_seconds": statistics.fmean(
                            r[f"seconds_{m}"] for r in rows if r["size"] == size
                        )
                        if m in HEADS
                        else None,
                    }
                )
    differences = []
    for baseline in ("label_smoothing", "none"):
        differences += paired_differences(
            arms, metric="accuracy", baseline=baseline, by=GROUP, scale=100
        )
    return {
        "runs": rows,
        "summary": summary,
        "differences": differences,
        "targets": targets(differences),
    }


def targets(differences: list[dict]) -> list[dict]:
    """Per size: the best PK-GCN arm against label smoothing (target: interval above 0), and the
    command's returned model (``kept``) against label smoothing."""
    out = []
    for size in sorted({d["size"] for d in differences}):
        vs_smooth = [
            d for d in differences if d["size"] == size and d["baseline"] == "label_smoothing"
        ]
        pkgcn = [d for d in vs_smooth if d["method"] in PKGCN_ARMS]
        best = max(pkgcn, key=lambda d: d["mean_diff"]) if pkgcn else None
        kept = next((d for d in vs_smooth if d["method"] == "kept"), None)
        out.append(
            {
                "size": size,
                "best_pkgcn": None if best is None else best["method"],
                "pkgcn_vs_smoothing": None
                if best is None
                else [best["mean_diff"], best["ci_low"], best["ci_high"]],
                "pkgcn_met": best is not None and best["ci_low"] > 0,
                "kept_vs_smoothing": None
                if kept is None
                else [kept["mean_diff"], kept["ci_low"], kept["ci_high"]],
            }
        )
    return out


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default=None, help="comma-separated train|val sizes")
    p.add_argument("--seeds", default=None, help="comma-separated seeds")
    p.add_argument("--epochs", default=None, help="stage1,stage2 (default: the budget's)")
    p.add_argument("--resume", action="store_true", help="keep finished cells of the output JSON")
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    epochs = ints(args.epochs) or budget["epochs"]
    cells = [
        {"size": size, "seed": seed}
        for seed in ints(args.seeds) or budget["seeds"]  # seed-major: a stop cuts seeds
        for size in ints(args.sizes) or budget["sizes"]
    ]
    out = args.out or str(RESULTS / f"{NAME}-{args.budget}.json")
    print(f"{len(cells)} cells, epochs {epochs}; load average {os.getloadavg()}", flush=True)

    def on_row(row: dict, grid) -> None:
        accs = " ".join(f"{h} {100 * row[f'acc_{h}']:.2f}" for h in HEADS)
        print(
            f"{row['size']}/{row['seed']}: {accs}; "
            f"{row['seconds']:.0f} s, load {row['load_average']:.2f}",
            flush=True,
        )

    started = time.perf_counter()
    grid = run_grid(
        NAME,
        cells,
        lambda cell: run_once(cell["size"], cell["seed"], epochs),
        out=out,
        resume=args.resume,
        budget=args.budget,
        figures=lambda rows: {
            **figures(rows),
            "protocol": {
                "epochs": list(epochs),
                "batch_size": BATCH_SIZE,
                "heads": list(HEADS),
                "optimizer": "recipe (AdamW 3e-3, weight decay 5e-4, 10% warm-up, cosine), fresh for stage 2",
                "base": "base_cnn(n_conv=1)",
            },
        },
        on_row=on_row,
    )
    result = figures(grid.rows)
    print()
    print(
        table(
            result["summary"], ["size", "method", "seeds", "mean", "std", "kept", "stage2_seconds"]
        )
    )
    print()
    print(table(result["differences"], ["size", "method", "baseline", *DIFFERENCE_COLUMNS]))
    print()
    print(
        table(
            result["targets"],
            ["size", "best_pkgcn", "pkgcn_vs_smoothing", "pkgcn_met", "kept_vs_smoothing"],
        )
    )
    print(f"\nwall {time.perf_counter() - started:.0f} s; results: {grid.path}")
    if grid.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
