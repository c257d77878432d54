"""The permutation GA: operators (property-based), selection, improvement, budget, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automl_kit.ehr.fitness import LayoutFitness
from automl_kit.ehr.layouts.ga import (
    CHECKPOINT_FILE,
    PermutationGA,
    algorithm3_select,
    ordered_crossover,
    swap_mutation,
)
from automl_kit.ehr.layouts.random import RandomLayout
from automl_kit.utils.interrupt import Interrupted, graceful_interrupt, request_stop
from automl_kit.utils.rundir import RunDirectory

PROPERTY = settings(max_examples=50, deadline=None)


@st.composite
def parents(draw):
    n = draw(st.integers(2, 40))
    a = draw(st.permutations(range(n)))
    b = draw(st.permutations(range(n)))
    cut = draw(st.integers(1, n - 1))
    return np.array(a), np.array(b), cut


def _is_subsequence(part, whole) -> bool:
    it = iter(whole.tolist())
    return all(g in it for g in part.tolist())


@PROPERTY
@given(parents())
def test_crossover_gives_permutations_inheriting_from_both_parents(case):
    a, b, cut = case
    child_a, child_b = ordered_crossover(a, b, cut)
    for child, head, tail in ((child_a, a, b), (child_b, b, a)):
        assert sorted(child.tolist()) == list(range(len(a)))  # every gene exactly once
        np.testing.assert_array_equal(child[:cut], head[:cut])  # the prefix of one parent
        assert _is_subsequence(child[cut:], tail)  # the rest in the other parent's order


@PROPERTY
@given(parents(), st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_swap_mutation_keeps_a_permutation_and_changes_at_most_two_genes_per_swap(
    case, seed, swaps
):
    a, b, _ = case
    population = np.stack([a, b])
    mutated = swap_mutation(population.copy(), np.random.default_rng(seed), swaps=swaps)
    for before, after in zip(population, mutated):
        assert sorted(after.tolist()) == sorted(before.tolist())
        assert (after != before).sum() <= 2 * swaps


def test_children_of_a_generation_are_permutations_from_survivors(planted_problem):
    ga = PermutationGA(population=12, survivors=3, seed=0)
    rng = np.random.default_rng(0)
    cells = planted_problem.cells
    population = np.array([rng.permutation(cells) for _ in range(12)])
    fitness = planted_problem.fitness(population)
    nxt = ga.next_generation(population, fitness, rng)
    assert nxt.shape == population.shape
    assert all(sorted(row.tolist()) == list(range(cells)) for row in nxt)
    best3 = population[np.argsort(fitness, kind="stable")[:3]]
    np.testing.assert_array_equal(nxt[:3], best3)  # the I fittest survive unchanged


def test_algorithm3_selection_keeps_the_fittest_and_random_less_fit():
    fitness = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 9.0])
    chosen = algorithm3_select(fitness, 2, 2, np.random.default_rng(0))
    assert chosen[:2].tolist() == [1, 3]
    assert len(set(chosen.tolist())) == 4 and set(chosen[2:]) <= {0, 2, 4, 5}


def test_ga_improves_fitness_on_a_planted_problem(planted_problem):
    result = PermutationGA(population=40, generations=150, seed=0).make(planted_problem)
    random_fit = np.mean([RandomLayout(seed=s).make(planted_problem).fitness for s in range(10)])
    history = [row["best_so_far"] for row in result.history]
    assert len(history) == 150 and history == sorted(history, reverse=True)
    assert result.fitness == history[-1] == planted_problem.fitness(result.layout)[0]
    # well below a random layout's fitness, most treatments beside a related diagnosis
    assert result.fitness < 0.6 * random_fit, (result.fitness, random_fit)
    assert sorted(result.layout[result.layout >= 0].tolist()) == list(range(36))


def test_ga_same_seed_same_layout_and_patience_stops(planted_problem):
    first = PermutationGA(population=10, generations=30, seed=3).make(planted_problem)
    again = PermutationGA(population=10, generations=30, seed=3).make(planted_problem)
    np.testing.assert_array_equal(first.layout, again.layout)
    assert first.history == again.history
    trivial = LayoutFitness(np.array([[0.5]]), diagnoses=[0], treatments=[1], shape=(1, 2))
    from automl_kit.ehr.layouts.base import LayoutProblem

    problem = LayoutProblem(["dx:a", "rx:b"], ["dx", "rx"], (1, 2), trivial)
    stopped = PermutationGA(population=4, generations=500, patience=5).make(problem)
    # the first layout already reaches the lower bound: no generation more is run
    assert stopped.fitness == 1.0 and len(stopped.history) == 1
    assert stopped.stop_reason == "reached the fitness lower bound"
    stale = PermutationGA(population=6, generations=5000, patience=3, seed=0).make(planted_problem)
    assert "patience" in stale.stop_reason and len(stale.history) < 5000
    assert len({row["best_so_far"] for row in stale.history[-4:]}) == 1


def test_ga_rejects_bad_settings():
    with pytest.raises(ValueError, match="population"):
        PermutationGA(population=2)
    with pytest.raises(ValueError, match="survivors"):
        PermutationGA(population=8, survivors=4)
    with pytest.raises(ValueError, match="generations"):
        PermutationGA(generations=0)
    with pytest.raises(ValueError, match="time budget"):
        PermutationGA(time_budget="soon")
    with pytest.raises(ValueError, match="run_dir"):
        PermutationGA().make(None, resume=True)


class _StopAt:
    """Stand-in for Ctrl-C (or a kill) after ``calls`` fitness evaluations."""

    def __init__(self, calls: int, hard: bool = False):
        self.calls, self.hard, self.seen = calls, hard, 0

    def __call__(self, original):
        def fitness(this, population):
            self.seen += 1
            if self.seen == self.calls:
                if self.hard:
                    raise KeyboardInterrupt  # a kill: no checkpoint at this point
                request_stop()
            return original(this, population)

        return fitness


@pytest.mark.parametrize("hard", [False, True])
def test_ga_resume_after_interruption_continues_the_same_run(
    planted_problem, tmp_path, monkeypatch, hard, capsys
):
    settings_ = dict(population=12, generations=40, checkpoint_every=5, seed=1)
    whole = PermutationGA(**settings_).make(planted_problem, run_dir=tmp_path / "whole")
    stop = _StopAt(23, hard=hard)
    monkeypatch.setattr(LayoutFitness, "__call__", stop(LayoutFitness.__call__))
    with graceful_interrupt(), pytest.raises(Interrupted if not hard else KeyboardInterrupt) as e:
        PermutationGA(**settings_).make(planted_problem, run_dir=tmp_path / "cut")
    if not hard:  # the message says where the run stopped
        assert "after layout generation 23" in str(e.value)
    monkeypatch.undo()
    run = RunDirectory(tmp_path / "cut")
    assert run.status == "stopped"
    saved, _ = run.read_checkpoint(CHECKPOINT_FILE)
    assert saved["generation"] == (23 if not hard else 20)  # Ctrl-C: now; a kill: the last one
    capsys.readouterr()
    resumed = PermutationGA(**settings_, verbose=1).make(
        planted_problem, run_dir=tmp_path / "cut", resume=True
    )
    assert f"resumed at generation {saved['generation']}" in capsys.readouterr().out
    assert resumed.history == whole.history
    np.testing.assert_array_equal(resumed.layout, whole.layout)
    assert run.status == "finished"
    again = PermutationGA(**settings_).make(planted_problem, run_dir=tmp_path / "cut", resume=True)
    assert again.from_earlier_run and again.fitness == whole.fitness
    layout = json.loads((tmp_path / "cut" / "layout.json").read_text())
    assert layout["layout"] == whole.layout.tolist()
    with pytest.raises(ValueError, match="population.* differ from the saved run"):
        PermutationGA(**{**settings_, "population": 16}).make(
            planted_problem, run_dir=tmp_path / "whole", resume=True
        )


def test_resume_may_change_the_time_budget_but_not_the_search(planted_problem, tmp_path):
    PermutationGA(population=8, generations=10, seed=0).make(planted_problem, run_dir=tmp_path)
    RunDirectory(tmp_path).mark_stopped()
    again = PermutationGA(population=8, generations=10, time_budget="5m", seed=0).make(
        planted_problem, run_dir=tmp_path, resume=True
    )
    assert again.from_earlier_run  # finished: the saved result, nothing redone
    with pytest.raises(ValueError, match="mutation_swaps differ"):
        PermutationGA(population=8, generations=10, mutation_swaps=2).make(
            planted_problem, run_dir=tmp_path, resume=True
        )


def test_ga_progress_is_also_time_based(planted_problem, monkeypatch, capsys):
    from automl_kit.ehr.layouts import ga

    PermutationGA(population=6, generations=100, verbose=1, seed=0).make(planted_problem)
    every_tenth = capsys.readouterr().out.count("layout ga gen")
    monkeypatch.setattr(ga, "PROGRESS_SECONDS", 0.0)  # as if each generation took long
    PermutationGA(population=6, generations=100, verbose=1, seed=0).make(planted_problem)
    assert every_tenth == 10 and capsys.readouterr().out.count("layout ga gen") == 100
