"""The benchmarks' one resumable grid runner and their paired comparison with bootstrap intervals."""

import json
import random

import pytest

from benchmarks._common import Lanes, best_arm, bootstrap_interval, paired_differences, run_grid

CELLS = [{"dataset": "d", "method": m, "seed": s} for s in (0, 1) for m in ("base", "new")]


def _score(cell: dict) -> dict:
    return {"acc": 0.5 + 0.1 * (cell["method"] == "new") + 0.01 * cell["seed"]}


class Runner:
    """``run_cell`` that records its calls and fails on the cells named in ``fail``."""

    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def __call__(self, cell):
        self.calls.append((cell["method"], cell["seed"]))
        if (cell["method"], cell["seed"]) in self.fail:
            raise RuntimeError(f"out of memory in {cell['method']}")
        return _score(cell)


def test_a_failing_cell_is_recorded_and_resume_runs_only_the_unfinished_cells(tmp_path):
    out = tmp_path / "grid.json"
    first = Runner(fail={("new", 0)})
    grid = run_grid("toy", CELLS, first, out=out)
    assert len(first.calls) == 4  # the failure did not stop the grid
    saved = json.loads(out.read_text())
    assert saved["benchmark"] == "toy" and "environment" in saved
    assert [(r["method"], r["seed"]) for r in saved["runs"]] == [
        ("base", 0),
        ("base", 1),
        ("new", 1),
    ]
    assert saved["failed"] == [
        {"dataset": "d", "method": "new", "seed": 0, "error": "RuntimeError: out of memory in new"}
    ]
    assert len(grid.failed) == 1 and len(grid.rows) == 3

    again = Runner()
    grid = run_grid("toy", CELLS, again, out=out, resume=True)
    assert again.calls == [("new", 0)] and grid.skipped == 3
    saved = json.loads(out.read_text())
    assert "failed" not in saved and len(saved["runs"]) == 4
    assert {r["method"] + str(r["seed"]): r["acc"] for r in saved["runs"]} == {
        c["method"] + str(c["seed"]): _score(c)["acc"] for c in CELLS
    }

    fresh = Runner()
    run_grid("toy", CELLS, fresh, out=out)  # without resume every cell runs again
    assert len(fresh.calls) == 4


def test_each_cell_is_saved_as_it_finishes(tmp_path):
    out = tmp_path / "grid.json"

    def interrupted(cell):
        if cell["seed"] == 1:
            raise KeyboardInterrupt  # Ctrl-C during the third cell
        return _score(cell)

    with pytest.raises(KeyboardInterrupt):
        run_grid("toy", CELLS, interrupted, out=out)
    assert len(json.loads(out.read_text())["runs"]) == 2
    resumed = Runner()
    run_grid("toy", CELLS, resumed, out=out, resume=True)
    assert resumed.calls == [("base", 1), ("new", 1)]


def test_lanes_run_every_cell_and_a_benchmark_keeps_its_own_format(tmp_path):
    out = tmp_path / "grid.json"
    keyed = lambda rows: {"runs": {f"{r['method']}/{r['seed']}": r["acc"] for r in rows}}  # noqa: E731
    read = lambda saved: [  # noqa: E731
        {"dataset": "d", "method": k.split("/")[0], "seed": int(k.split("/")[1]), "acc": v}
        for k, v in saved["runs"].items()
    ]
    run_grid("toy", CELLS[:3], Runner(), out=out, lanes=2, figures=keyed)
    assert len(json.loads(out.read_text())["runs"]) == 3
    rest = Runner()
    grid = run_grid("toy", CELLS, rest, out=out, resume=True, figures=keyed, rows_from=read)
    assert rest.calls == [("new", 1)] and len(json.loads(out.read_text())["runs"]) == 4
    assert len(grid.rows) == 4


def test_the_grid_refuses_duplicate_cells_and_bad_lanes(tmp_path):
    with pytest.raises(ValueError, match="appear twice"):
        run_grid("toy", CELLS + CELLS[:1], Runner(), out=tmp_path / "g.json")
    with pytest.raises(ValueError, match="lanes"):
        run_grid("toy", CELLS, Runner(), out=tmp_path / "g.json", lanes=0)


def test_paired_differences_pair_seeds_and_the_interval_contains_the_mean():
    rng = random.Random(3)
    rows = []
    for seed in range(8):
        base = rng.uniform(0.5, 0.9)
        rows.append({"dataset": "d", "method": "base", "seed": seed, "acc": base})
        rows.append(
            {"dataset": "d", "method": "new", "seed": seed, "acc": base + rng.gauss(0.02, 0.03)}
        )
    rows.append({"dataset": "d", "method": "new", "seed": 99, "acc": 0.0})  # no baseline: unpaired
    (diff,) = paired_differences(rows, metric="acc", baseline="base", scale=100)
    by_seed = {r["seed"]: r["acc"] for r in rows if r["method"] == "base"}
    expected = [
        100 * (r["acc"] - by_seed[r["seed"]])
        for r in rows
        if r["method"] == "new" and r["seed"] in by_seed
    ]
    assert diff["pairs"] == 8 and diff["mean_diff"] == pytest.approx(sum(expected) / 8)
    assert diff["ci_low"] < diff["mean_diff"] < diff["ci_high"]
    assert min(expected) <= diff["ci_low"] and diff["ci_high"] <= max(expected)
    assert diff["method"] == "new" and diff["baseline"] == "base" and diff["dataset"] == "d"


def test_bootstrap_interval_is_seeded_narrows_with_more_data_and_refuses_nothing():
    rng = random.Random(0)
    few = [rng.gauss(1.0, 1.0) for _ in range(5)]
    many = few + [rng.gauss(1.0, 1.0) for _ in range(195)]
    assert bootstrap_interval(few) == bootstrap_interval(few)
    (lo5, hi5), (lo200, hi200) = bootstrap_interval(few), bootstrap_interval(many)
    assert hi200 - lo200 < hi5 - lo5
    assert lo200 < sum(many) / len(many) < hi200
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_interval([])


def test_paired_differences_count_wins_and_compare_only_the_named_arms():
    rows = [
        {"dataset": "d", "method": m, "seed": s, "acc": a}
        for m, accs in {
            "base": (0.5, 0.6, 0.7),
            "new": (0.6, 0.5, 0.8),
            "other": (0.9, 0.9, 0.9),
        }.items()
        for s, a in enumerate(accs)
    ]
    (diff,) = paired_differences(rows, metric="acc", baseline="base", arms=["new"])
    assert diff["method"] == "new" and diff["pairs"] == 3 and diff["positive"] == 2
    assert diff["mean_diff"] == pytest.approx(0.1 / 3)


def test_best_arm_takes_the_highest_median_among_the_candidates_first_listed_on_ties():
    rows = [
        {"method": m, "acc": a}
        for m, a in [("a", 0.9), ("a", 0.7), ("a", 0.8), ("b", 0.8), ("c", 0.99)]
    ]
    assert best_arm(rows, ["a", "b"], metric="acc") == "a"  # tie at a median of 0.8
    assert best_arm(rows, ["b", "a"], metric="acc") == "b"
    assert best_arm(rows, ["a", "b", "c"], metric="acc") == "c"
    assert best_arm(rows, ["missing"], metric="acc") is None


def test_search_compare_pairs_the_subject_with_the_best_peer_of_each_data_set():
    from benchmarks.search_compare import against_best_peer, summarise

    accs = {  # per data set and method: test accuracy of seeds 0, 1, 2
        "d1": {
            "vlga": (0.90, 0.93, 0.91),
            "optuna_tpe": (0.89, 0.92, 0.92),
            "keras_tuner_random": (0.80, 0.85, 0.95),
        },
        "d2": {
            "vlga": (0.70, 0.70, 0.70),
            "optuna_tpe": (0.60, 0.60, 0.60),
            "keras_tuner_random": (0.65, 0.75, 0.72),
        },
    }
    rows = [
        {
            "dataset": d,
            "method": m,
            "seed": s,
            "test_accuracy": a,
            "val_fitness": a,
            "evaluations": 6,
            "search_seconds": 120.0,
            "final_fit_seconds": 1.0,
            "depth": 3,
        }
        for d, by_method in accs.items()
        for m, seeds in by_method.items()
        for s, a in enumerate(seeds)
    ]
    d1, d2 = against_best_peer(rows)
    assert (d1["dataset"], d1["baseline"], d1["positive"]) == ("d1", "optuna_tpe", 2)
    assert d1["mean_diff"] == pytest.approx(100 * 0.01 / 3, abs=0.01)
    assert (d2["dataset"], d2["baseline"], d2["positive"]) == ("d2", "keras_tuner_random", 1)
    assert {r["evals_per_min"] for r in summarise(rows)} == {3.0}
    # a no-search rival evaluates nothing in no search time: 0 a minute, not a crash
    rival = {**rows[0], "method": "textbook", "evaluations": 0, "search_seconds": 0.0}
    assert summarise([rival])[0]["evals_per_min"] == 0.0


def test_lanes_refuse_zero_lanes_and_split_the_cores():
    with pytest.raises(ValueError, match="lanes"):
        Lanes(0)
    lanes = Lanes(2, cpus=[0, 1, 2, 3])
    assert sorted(sorted(lanes._free.get()) for _ in range(2)) == [[0, 1], [2, 3]]


def _freezing_rows():
    """Fake freezing runs: two seeds; ``fast`` takes 80% of no freezing's time and loses 1 point."""
    rows = []
    for seed, (seconds, acc) in enumerate([(100.0, 0.80), (120.0, 0.90)]):
        for policy, time_factor, loss in (("none", 1.0, 0.0), ("fast", 0.8, 0.01)):
            rows.append(
                {
                    "dataset": "d",
                    "model": "m",
                    "policy": policy,
                    "seed": seed,
                    "seconds": seconds * time_factor,
                    "test_accuracy": acc - loss,
                    "frozen_per_epoch": [0, 3] if policy == "fast" else [0, 0],
                }
            )
    return rows


def test_freezing_pairs_each_policy_with_no_freezing_of_the_same_seed():
    from benchmarks.freezing import aggregate, differences

    rows = _freezing_rows() + [
        {
            "dataset": "d",
            "model": "m",
            "policy": "fast",
            "seed": 7,
            "seconds": 1.0,
            "test_accuracy": 0.1,
            "frozen_per_epoch": [1],
        }  # no baseline for seed 7: left out
    ]
    fast = next(r for r in aggregate(rows) if r["policy"] == "fast")
    assert fast["seeds"] == 2 and fast["time_ratio"] == pytest.approx(0.8)
    assert fast["acc_diff_pts"] == pytest.approx(-1.0) and fast["frozen_epochs"] == 0.5
    (diff,) = differences(rows)
    assert diff["policy"] == "fast" and diff["mean_diff"] == -1.0 and diff["positive"] == 0


def test_freezing_writes_its_time_vs_accuracy_plot(tmp_path):
    from benchmarks.freezing import plot

    path = plot(_freezing_rows(), tmp_path / "freezing-x.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot([r for r in _freezing_rows() if r["policy"] != "none"], tmp_path / "n.png") is None
