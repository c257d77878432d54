"""Rival layouts, the registry, the image mapper (channels = windows, values in [0, 1]) and
the overlay augmentation (Eq. 5.2) with Alg. 4's drop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_kit.ehr import (
    EHRImageMapper,
    LayoutProblem,
    drop_confusing,
    feature_distances,
    overlay_augment,
)
from automl_kit.ehr.layouts.embedding import EmbeddingLayout, assign_to_cells
from automl_kit.ehr.layouts.igtd import IGTDLayout, _scaled_ranks
from automl_kit.registries import LAYOUTS


@pytest.fixture(scope="module")
def grouped_problem() -> LayoutProblem:
    """18 codes in three groups of correlated columns (0-5, 6-11, 12-17) on a 5 x 4 grid."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 3))
    x = np.repeat(z, 6, axis=1) + 0.3 * rng.normal(size=(300, 18))
    relations = pd.DataFrame(
        np.full((9, 9), 0.1), [f"dx:{i}" for i in range(9)], [f"rx:{i}" for i in range(9)]
    )
    return LayoutProblem.from_relations(relations, shape=(5, 4), distances=feature_distances(x))


def _mean_group_distance(layout: np.ndarray, cols: int) -> float:
    """Average grid distance between codes of the same group (lower: groups kept together)."""
    pos = np.empty(18, int)
    pos[layout[layout >= 0]] = np.flatnonzero(layout >= 0)
    y, x = np.divmod(pos, cols)
    group = np.arange(18) // 6
    same = (group[:, None] == group[None, :]) & ~np.eye(18, dtype=bool)
    return float(np.hypot(y[:, None] - y[None], x[:, None] - x[None])[same].mean())


@pytest.mark.parametrize("name", LAYOUTS.names())
def test_every_registered_layout_places_each_code_once(name, grouped_problem):
    maker = LAYOUTS.create(name, seed=0)
    options = {"generations": 5} if name == "ga" else {}
    if options:
        maker = LAYOUTS.create(name, seed=0, population=8, **options)
    result = maker.make(grouped_problem)
    placed = result.layout[result.layout >= 0]
    assert sorted(placed.tolist()) == list(range(18)) and result.layout.size == 20
    assert result.fitness == grouped_problem.fitness(result.layout)[0]
    assert type(maker).from_config(maker.get_config()).get_config() == maker.get_config()


@pytest.mark.parametrize(
    "maker",
    [
        EmbeddingLayout(),
        pytest.param(EmbeddingLayout(method="tsne"), marks=pytest.mark.slow),  # ~3 s of t-SNE
        IGTDLayout(),
    ],
)
def test_data_driven_layouts_keep_correlated_codes_together(maker, grouped_problem):
    layout = maker.make(grouped_problem).layout
    random = np.mean(
        [
            _mean_group_distance(LAYOUTS.create("random", seed=s).make(grouped_problem).layout, 4)
            for s in range(10)
        ]
    )
    assert _mean_group_distance(layout, 4) < 0.8 * random


def test_igtd_error_falls_and_matches_a_recount(grouped_problem):
    maker = IGTDLayout()
    layout = maker.make(grouped_problem).layout
    assert maker.errors_[-1] < maker.errors_[0]
    assert all(b < a for a, b in zip(maker.errors_, maker.errors_[1:]))
    pos = np.empty(18, int)
    pos[layout[layout >= 0]] = np.flatnonzero(layout >= 0)
    y, x = np.divmod(np.arange(20), 4)
    q = _scaled_ranks(np.hypot(y[:, None] - y[None], x[:, None] - x[None]))
    r = _scaled_ranks(grouped_problem.distances)
    assert np.isclose(np.triu(np.abs(r - q[pos][:, pos]), 1).sum(), maker.errors_[-1])


def test_assignment_gives_each_point_its_own_cell_and_layouts_need_distances():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # two points on one spot
    layout = assign_to_cells(points, (2, 2))
    assert sorted(layout[layout >= 0].tolist()) == [0, 1, 2]
    problem = LayoutProblem.from_relations(pd.DataFrame([[0.5]], ["dx:a"], ["rx:b"]))
    for maker in (EmbeddingLayout(), IGTDLayout()):
        with pytest.raises(ValueError, match="distances"):
            maker.make(problem)
    with pytest.raises(ValueError, match="unknown method"):
        EmbeddingLayout(method="umap")
    with pytest.raises(ValueError, match="unknown layout 'spiral'"):
        EHRImageMapper(layout="spiral")


# ---------------------------------------------------------------------------- the mapper
@pytest.fixture(scope="module")
def example():
    from automl_kit.datasets import ehr_example

    return ehr_example()


def test_images_have_one_channel_per_window_and_values_in_unit_range(example):
    mapper = EHRImageMapper(layout="ga", layout_options={"generations": 10, "population": 8})
    images = mapper.fit(example).transform(example)
    counts, codes = example.counts(codes=mapper.features_)
    assert mapper.features_ == ["dx:a", "px:b", "rx:c"] and codes == mapper.features_
    assert images.shape == (3, 2, 2, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    for cell in np.flatnonzero(mapper.layout_ >= 0):
        feature = mapper.layout_[cell]
        row, col = divmod(int(cell), 2)
        # each window's count lands in its own channel, scaled by the code's training maximum
        expected = counts[:, feature, :] / max(counts[:, feature, :].max(), 1)
        np.testing.assert_allclose(images[:, row, col, :], expected)
    empty = np.flatnonzero(mapper.layout_ < 0)
    assert all(np.all(images[:, c // 2, c % 2, :] == 0) for c in empty)
    # 10 generations, or fewer when the GA reaches the fitness lower bound
    assert 1 <= len(mapper.fitness_history_) <= 10
    assert len(mapper.fitness_history_) == 10 or mapper.fitness_ <= mapper.summary()["lower_bound"]
    # a count above the training maximum saturates at 1
    more = mapper.transform(counts * 5)
    assert more.max() == 1.0 and more.min() >= 0.0


def test_mapper_accepts_raw_tables_and_refuses_bad_input(example, tmp_path):
    mapper = EHRImageMapper(layout="random")
    events, patients = example.events, example.patients
    images = mapper.fit(events, patients, lookback_days=example.lookback_days).transform(
        events, patients, lookback_days=example.lookback_days
    )
    assert images.shape[0] == len(patients)
    with pytest.raises(ValueError, match="lookback_days"):
        EHRImageMapper(layout="random").fit(events, patients)
    with pytest.raises(ValueError, match="EHRTables"):
        EHRImageMapper(layout="random").fit(events)
    with pytest.raises(ValueError, match="not fitted"):
        EHRImageMapper().transform(example)
    with pytest.raises(ValueError, match="do not fit"):
        EHRImageMapper(width=1, height=2, layout="random").fit(example)
    with pytest.raises(ValueError, match="features"):
        mapper.transform(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        mapper.transform(-np.ones((2, 3, 3)))
    mapper.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "layout.json",
        "image_scale.json",
        "relations.npy",
    }
    assert EHRImageMapper.from_config(mapper.get_config()).get_config() == mapper.get_config()


# --------------------------------------------------------------------- augmentation (Eq. 5.2)
def test_overlay_keeps_unit_range_and_positives_positive():
    rng = np.random.default_rng(1)
    pos, neg = rng.random((5, 4, 4, 3)), rng.random((7, 4, 4, 3))
    aug = overlay_augment(pos, neg, n=40, p=0.5, seed=0)
    assert aug.shape == (40, 4, 4, 3) and aug.min() >= 0 and aug.max() <= 1
    # every synthetic image dominates one of the positives (the positive's history is kept)
    assert all(any(np.all(a >= p - 1e-7) for p in pos.astype(np.float32)) for a in aug)
    none = overlay_augment(pos, neg, n=10, p=0.0, seed=0)  # an empty mask copies positives
    assert all(any(np.allclose(a, p) for p in pos) for a in none)
    np.testing.assert_array_equal(aug, overlay_augment(pos, neg, n=40, p=0.5, seed=0))
    # the mask is per pixel: all channels of a pixel are overlaid together or not at all
    zeros = np.zeros((1, 4, 4, 3))
    ones = overlay_augment(zeros, np.ones((1, 4, 4, 3)), n=5, p=0.5, seed=2)
    assert np.all(ones.min(axis=3) == ones.max(axis=3))


def test_overlay_and_drop_refuse_bad_input():
    img = np.zeros((2, 2, 2, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        overlay_augment(img + 2, img, n=1)
    with pytest.raises(ValueError, match="images"):
        overlay_augment(img[..., 0], img, n=1)
    with pytest.raises(ValueError, match="at least one positive"):
        overlay_augment(img[:0], img, n=1)
    with pytest.raises(ValueError, match="probability"):
        overlay_augment(img, img, n=1, p=2)
    with pytest.raises(ValueError, match="0/1"):
        drop_confusing(np.array([0, 2]), np.array([0.1, 0.2]), 1)


def test_drop_confusing_removes_the_worst_scored_and_keeps_both_classes():
    y = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.95, 0.3, 0.9, 0.05])
    assert drop_confusing(y, scores, 2).tolist() == [0, 2, 3]
    assert drop_confusing(y, scores, 10).tolist() == [0, 3]  # one of each class stays


def test_ga_puts_simulated_treatments_beside_their_true_indication():
    from automl_kit.datasets import ehr_cohort

    tables = ehr_cohort(800, seed=0)

    def beside_indication(mapper) -> float:
        rows, cols = mapper.shape_
        where = {
            mapper.features_[f]: divmod(c, cols) for c, f in enumerate(mapper.layout_) if f >= 0
        }
        near = [
            max(abs(a - b) for a, b in zip(where[t], where[d])) <= 1
            for t, d in tables.truth["indication"].items()
            if t in where and d in where
        ]
        return float(np.mean(near))

    ga = EHRImageMapper(layout_options={"generations": 1500, "population": 30}).fit(tables)
    rand = EHRImageMapper(layout="random").fit(tables)
    assert ga.fitness_ < 0.7 * rand.fitness_
    assert beside_indication(ga) > beside_indication(rand) + 0.3, (
        beside_indication(ga),
        beside_indication(rand),
    )
