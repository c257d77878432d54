import random
import statistics

import numpy as np
import pytest
from deap import creator

from automl_kit.search import CNNSpace, VariableLengthGA
from tests.search.conftest import tiny_space


def _population(ga, n, phase=0, fitness=None):
    pop = []
    for i in range(n):
        ind = creator.VLGAIndividual(ga.space.random_genes(phase + 1, ga.rng))
        ind.fitness.values = (fitness[i] if fitness else i / n,)
        pop.append(ind)
    return pop


def test_selection_keeps_the_fittest_half_and_a_fifth_of_the_rest():
    ga = VariableLengthGA(tiny_space(), population=20, seed=0)
    extra = []
    for _ in range(400):
        pop = _population(ga, 20)
        survivors = ga.select(pop)
        top = sorted(pop, key=lambda i: i.fitness.values[0], reverse=True)[:10]
        assert all(any(s is t for s in survivors) for t in top)
        extra.append(len(survivors) - 10)
    assert abs(statistics.mean(extra) / 10 - 0.2) < 0.03


def test_mutation_changes_exactly_one_gene_of_the_phase_segment():
    ga = VariableLengthGA(CNNSpace(), population=4, seed=1)
    for _ in range(200):
        ind = creator.VLGAIndividual(ga.space.random_genes(3, ga.rng))
        before = list(ind)
        ga.mutate(ind, phase=2)
        changed = [i for i, (a, b) in enumerate(zip(before, ind)) if a != b]
        assert len(changed) == 1 and changed[0] in ga.space.segment(2)
        ga.space.validate(list(ind))


def test_mutation_rate_in_next_generation():
    ga = VariableLengthGA(tiny_space(), population=10, mutation_rate=0.2, weak_survival=0.0, seed=2)
    mutated = total = 0
    for _ in range(300):
        pop = _population(ga, 10)
        nxt = ga.next_generation(pop)
        assert len(nxt) == 10
        parents = {tuple(p) for p in sorted(pop, key=lambda i: i.fitness.values[0])[5:]}
        mutated += sum(tuple(s) not in parents for s in nxt[:5])
        total += 5
    # a mutation can reproduce a parent only if it lands on another survivor's genes: rare here
    assert abs(mutated / total - 0.2) < 0.04


def test_uniform_crossover_takes_each_gene_from_a_parent_half_the_time():
    ga = VariableLengthGA(CNNSpace(), population=4, seed=3)
    mother = creator.VLGAIndividual(["relu"] + [8, 1, 0, 8, 1, 0, 0, "max", 0])
    father = creator.VLGAIndividual(["tanh"] + [512, 9, 1, 512, 9, 1, 1, "avg", 1])
    from_mother = np.zeros(10)
    for _ in range(1000):
        child = ga.crossover(mother, father)
        assert all(c in (m, f) for c, m, f in zip(child, mother, father))
        from_mother += [c == m for c, m in zip(child, mother)]
    assert np.all(np.abs(from_mother / 1000 - 0.5) < 0.06)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="population must be at least 2"):
        VariableLengthGA(tiny_space(), population=1)
    with pytest.raises(ValueError, match="mutation_rate is a probability"):
        VariableLengthGA(tiny_space(), mutation_rate=1.5)


def _search(tmp_path, name="run", **kwargs):
    x = np.zeros((20, 8, 8, 1), np.float32)
    y = np.arange(20) % 2
    settings = dict(population=6, generations=3, seed=0, verbose=0)
    settings.update(kwargs.pop("ga", {}))
    ga = VariableLengthGA(tiny_space(), **settings)
    return ga, ga.search(x, y, validation_data=(x, y), run_dir=tmp_path / name, **kwargs)


def _generations(result) -> dict[int, set[int]]:
    """The generations each phase of a search went through."""
    out: dict[int, set[int]] = {}
    for row in result.history:
        out.setdefault(row["phase"], set()).add(row["generation"])
    return out


def test_survivors_and_duplicates_are_not_trained_again(tmp_path, fake_evaluate):
    ga, result = _search(tmp_path, ga={"max_phases": 2})
    keys = [t.key for t in fake_evaluate.calls]
    assert len(keys) == len(set(keys))  # each distinct model trained once
    assert result.evaluations == len(keys)
    rows = result.history
    assert len(rows) == 2 * 3 * 6  # phases x generations x population
    assert sum(r["trained_now"] for r in rows) == len(keys) < len(rows)


def test_new_phase_extends_the_best_and_inherits_its_model(tmp_path, fake_evaluate):
    ga, result = _search(tmp_path, ga={"max_phases": 2})
    phase0 = [r for r in result.history if r["phase"] == 0]
    best0 = max(phase0, key=lambda r: r["fitness"])
    phase1_tasks = [t for t in fake_evaluate.calls if len(t.genes) > ga.space.length(1)]
    assert phase1_tasks
    for task in phase1_tasks:
        assert task.genes[: ga.space.length(1)] == best0["genes"]
        assert task.parent_model is not None and task.parent_model.endswith(".keras")


def test_stops_when_a_phase_falls_below_the_earlier_best(tmp_path, fake_evaluate, monkeypatch):
    # fitness falls with depth: phase 1 is worse than phase 0 by more than the threshold
    def shallow_is_better(task):
        e = fake_evaluate(task)
        e.fitness = 0.9 - 0.1 * (len(task.genes) > 10)
        return e

    monkeypatch.setattr("automl_kit.search._run.evaluate", shallow_is_better)
    ga, result = _search(tmp_path)
    assert {r["phase"] for r in result.history} == {0, 1}
    assert "fell more than 0.01" in result.stop_reason
    assert len(result.best_genes) == 10


def test_keeps_growing_while_it_improves(tmp_path, fake_evaluate):
    ga, result = _search(tmp_path, ga={"max_phases": 4})
    assert result.stop_reason == "max_phases=4 reached"
    assert ga.space.n_blocks(result.best_genes) == 4


def test_phase_patience_moves_on_when_a_phase_stops_improving(tmp_path, fake_evaluate, monkeypatch):
    def flat_within_a_phase(task):  # every model of a depth scores the same: no progress
        e = fake_evaluate(task)
        e.fitness = 0.5 + 0.01 * len(task.genes)
        return e

    monkeypatch.setattr("automl_kit.search._run.evaluate", flat_within_a_phase)
    _, thesis = _search(tmp_path, "thesis", ga={"max_phases": 2, "generations": 4})
    _, patient = _search(
        tmp_path, "patient", ga={"max_phases": 2, "generations": 4, "phase_patience": 1}
    )

    assert _generations(thesis)[0] == {0, 1, 2, 3}
    assert _generations(patient)[0] == {0, 1}  # one generation without improvement, then grow
    assert _generations(patient)[1] == {0, 1}
    with pytest.raises(ValueError, match="phase_patience"):
        VariableLengthGA(tiny_space(), phase_patience=0)


def test_budget_phases_share_the_budget_so_that_the_search_grows(tmp_path, fake_evaluate):
    _, thesis = _search(tmp_path, "thesis", max_evaluations=18, ga={"schedule": "thesis"})
    _, paced = _search(tmp_path, "paced", max_evaluations=18, ga={"budget_phases": 3})
    assert _generations(thesis)[0] == {0, 1, 2}  # the thesis schedule spends most of it on phase 0
    # a first generation of 6 of 18 evaluations uses phase 0's third: grow after it, and so on
    assert _generations(paced) == {0: {0}, 1: {0}, 2: {0}}
    assert paced.best_fitness > thesis.best_fitness  # deeper scores higher under fake_fitness
    with pytest.raises(ValueError, match="budget_phases"):
        VariableLengthGA(tiny_space(), budget_phases=0)


def test_budget_phases_change_nothing_without_a_budget(tmp_path, fake_evaluate):
    _, thesis = _search(tmp_path, "thesis", ga={"max_phases": 2})
    _, paced = _search(tmp_path, "paced", ga={"max_phases": 2, "budget_phases": 2})
    assert [r["genes"] for r in paced.history] == [r["genes"] for r in thesis.history]


def test_max_evaluations_budget(tmp_path, fake_evaluate):
    ga, result = _search(tmp_path, max_evaluations=8)
    assert len(fake_evaluate.calls) == 8
    assert "evaluation budget of 8 spent" in result.stop_reason


def test_same_seed_same_search_path(tmp_path, fake_evaluate):
    _, a = _search(tmp_path, "a", ga={"max_phases": 2})
    _, b = _search(tmp_path, "b", ga={"max_phases": 2})
    _, c = _search(tmp_path, "c", ga={"max_phases": 2, "seed": 1})
    strip = lambda rows: [(r["genes"], r["fitness"]) for r in rows]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert strip(a.history) != strip(c.history)


def test_global_random_does_not_change_the_path(tmp_path, fake_evaluate, monkeypatch):
    def reseeding(task):
        random.seed(12345)  # what keras.utils.set_random_seed does inside every evaluation
        return fake_evaluate(task)

    _, a = _search(tmp_path, "a", ga={"max_phases": 2})
    monkeypatch.setattr("automl_kit.search._run.evaluate", reseeding)
    _, b = _search(tmp_path, "b", ga={"max_phases": 2})
    assert [r["genes"] for r in a.history] == [r["genes"] for r in b.history]


def test_outputs_in_run_directory(tmp_path, fake_evaluate):
    _, result = _search(tmp_path, ga={"max_phases": 2})
    for name in (
        "config.json",
        "history.csv",
        "evaluations.jsonl",
        "checkpoint.json",
        "best_chromosome.json",
        "best_architecture.txt",
        "fitness.png",
    ):
        assert (result.run.root / name).is_file(), name


def test_existing_run_directory_needs_resume(tmp_path, fake_evaluate):
    _search(tmp_path, ga={"max_phases": 1})
    with pytest.raises(ValueError, match="already holds a .vlga. run.*pass resume=True"):
        _search(tmp_path, ga={"max_phases": 1})


def test_resume_with_other_settings_is_refused(tmp_path, fake_evaluate):
    _search(tmp_path, ga={"max_phases": 1})
    with pytest.raises(ValueError, match="population differ"):
        _search(tmp_path, ga={"max_phases": 1, "population": 4}, resume=True)


@pytest.mark.slow  # tests/test_cli.py runs evolve --space dense on a CSV table by default
def test_dense_space_search_on_a_table(tmp_path, digits_small):
    from automl_kit.search import DenseSpace

    d = digits_small
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    space = DenseSpace(units=(16, 32), dropout=(0.0, 0.1))
    ga = VariableLengthGA(
        space,
        population=3,
        generations=1,
        max_phases=2,
        epochs_per_eval=4,
        batch_size=16,
        seed=0,
        verbose=0,
    )
    result = ga.search(
        flat(d.x_train), d.y_train, validation_data=(flat(d.x_val), d.y_val), run_dir=tmp_path / "r"
    )
    assert space.n_blocks(result.best_genes) in (1, 2)
    assert result.best_fitness > 0.5  # digits as 64 features: well above chance
    with pytest.raises(ValueError, match="must have rank 2"):
        ga.search(d.x_train, d.y_train, validation_data=d.validation_data, run_dir=tmp_path / "r2")


# Seeded determinism with real training: tests/search/test_resume.py (one real search serves both).
