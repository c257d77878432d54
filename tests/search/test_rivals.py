"""The thesis's rivals on the shared Searcher machinery (fake fitness: logic only)."""

import json
import random

import numpy as np
import pytest

from automl_kit.search import ClassicalGA, LargeScaleEvolution, RandomSearch
from tests.search.conftest import tiny_space

X = np.zeros((20, 8, 8, 1), np.float32)
Y = np.arange(20) % 2


def _run(searcher, tmp_path, **kwargs):
    return searcher.search(
        X, Y, validation_data=(X, Y), run_dir=tmp_path / searcher.algorithm, **kwargs
    )


def test_random_search_draws_depths_in_range(tmp_path, fake_evaluate):
    result = _run(RandomSearch(tiny_space(), seed=0, verbose=0), tmp_path, max_evaluations=60)
    depths = [tiny_space().depth(t.genes) for t in fake_evaluate.calls]
    assert len(depths) == 60 and min(depths) >= 2 and max(depths) <= 10
    assert len(set(depths)) >= 7  # depths spread over the range, not stuck at one
    assert "evaluation budget of 60 spent" in result.stop_reason


def test_random_search_needs_a_budget(tmp_path, fake_evaluate):
    with pytest.raises(ValueError, match="needs a budget"):
        _run(RandomSearch(tiny_space(), verbose=0), tmp_path)


def test_random_genes_of_depth_is_exact():
    space = tiny_space()
    rng = random.Random(0)
    for depth in range(2, 12):
        assert space.depth(space.random_genes_of_depth(depth, rng)) == depth


def test_classical_ga_keeps_three_conv_layers_and_elite(tmp_path, fake_evaluate):
    result = _run(
        ClassicalGA(tiny_space(), population=8, seed=0, verbose=0), tmp_path, max_evaluations=40
    )
    assert {tiny_space().depth(t.genes) for t in fake_evaluate.calls} == {3}
    best_by_generation = {}
    for row in result.history:
        best_by_generation[row["generation"]] = max(
            best_by_generation.get(row["generation"], 0), row["fitness"]
        )
    values = [best_by_generation[g] for g in sorted(best_by_generation)]
    assert values == sorted(values)  # the elite never gets lost


def test_large_scale_evolution_starts_minimal_and_grows(tmp_path, fake_evaluate):
    space = tiny_space()
    result = _run(
        LargeScaleEvolution(space, population=6, seed=0, verbose=0), tmp_path, max_evaluations=60
    )
    first = fake_evaluate.calls[0].genes
    assert space.n_blocks(first) == 1 and first[1] == min(space.channels)
    assert (
        max(space.n_blocks(t.genes) for t in fake_evaluate.calls) >= 3
    )  # fake fitness rewards depth
    # children inherit their parent's trained model
    assert all(t.parent_model for t in fake_evaluate.calls if space.n_blocks(t.genes) > 1)
    logged = [
        json.loads(line)
        for line in (result.run.root / "evaluations.jsonl").read_text().splitlines()
    ]
    best = max((r for r in logged if r["status"] == "ok"), key=lambda r: r["fitness"])
    assert (result.best_fitness, result.best_genes) == (best["fitness"], best["genes"])
    assert len(logged) == result.evaluations == 60


def test_the_saved_best_model_scores_the_best_fitness(tmp_path, digits_small):
    from automl_kit.search import DenseSpace

    d = digits_small
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    search = RandomSearch(
        DenseSpace(units=(8, 16), dropout=(0.0,)),
        depth_range=(1, 2),
        batch=2,
        epochs_per_eval=2,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    val = (flat(d.x_val), d.y_val)
    result = search.search(
        flat(d.x_train), d.y_train, validation_data=val, run_dir=tmp_path / "r", max_evaluations=2
    )
    logged = [
        json.loads(line)
        for line in (result.run.root / "evaluations.jsonl").read_text().splitlines()
    ]
    assert result.best_fitness == max(r["fitness"] for r in logged if r["status"] == "ok")
    _, accuracy = result.best_model().evaluate(*val, verbose=0)
    assert accuracy == pytest.approx(result.best_fitness, abs=1e-6)
    saved = json.loads((result.run.root / "best_chromosome.json").read_text())
    assert saved["fitness"] == result.best_fitness and saved["model"].startswith("models/")


def test_large_scale_evolution_mutations_stay_valid():
    space = tiny_space()
    lse = LargeScaleEvolution(space, population=2, seed=1)
    genes = lse.minimal_genes()
    for _ in range(300):
        genes = lse.mutate(genes)
        space.validate(genes)
