"""The issue-25 PK-GCN benchmark's figures: the returned model (validation winner) is scored as
an arm, and the target reads the best PK-GCN arm against label smoothing."""

from benchmarks.pkgcn_recipe import HEADS, figures


def _row(size, seed, winner, **acc):
    accuracy = {h: acc.get(h, 0.90) for h in HEADS}
    return {
        "size": size,
        "seed": seed,
        "winner": winner,
        **{f"acc_{h}": a for h, a in accuracy.items()},
        **{f"val_{h}": a for h, a in accuracy.items()},
        **{f"seconds_{h}": 1.0 for h in HEADS},
    }


def test_the_winner_is_an_arm_and_the_target_compares_pkgcn_with_label_smoothing():
    rows = [
        _row(300, seed, "label_smoothing", label_smoothing=0.92, pkgcn1=0.91 + 0.001 * seed)
        for seed in range(3)
    ]
    result = figures(rows)
    winner = next(s for s in result["summary"] if s["method"] == "winner")
    assert winner["mean"] == 92.0 and winner["stage2_seconds"] is None
    smoothing = next(s for s in result["summary"] if s["method"] == "label_smoothing")
    assert smoothing["won"] == 3
    (target,) = result["targets"]
    assert target["best_pkgcn"] == "pkgcn1" and not target["pkgcn_met"]
    assert round(target["pkgcn_vs_smoothing"][0], 6) == -0.9
    assert target["winner_vs_smoothing"] == [0.0, 0.0, 0.0]
