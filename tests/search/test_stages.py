"""The stage space: the textbook CNN is a member, known-good starts, valid models at any depth."""

from __future__ import annotations

import random

import pytest

from automl_kit.search import SearchSpace, StageSpace, VariableLengthGA
from automl_kit.zoo import build_model


def _layer_kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_the_textbook_cnn_is_a_member_of_the_space():
    space = StageSpace()
    textbook = space.known_good(3)[0]
    searched = space.build(textbook, (32, 32, 3), 10)
    zoo = build_model("textbook_cnn", (32, 32, 3), 10)
    assert searched.count_params() == zoo.count_params()
    assert _layer_kinds(searched) == _layer_kinds(zoo)
    assert space.describe(textbook)[0] == "stage0: 2 x conv 32 x 3x3 + BN, relu, max pool 2x2"


def test_known_good_starts_are_prefixes_of_their_models():
    space = StageSpace()
    full = space.known_good(3)
    for n_blocks in (1, 2):
        for short, long in zip(space.known_good(n_blocks), full, strict=True):
            assert space.n_blocks(short) == n_blocks
            assert short == long[: space.length(n_blocks)]
    assert space.known_good(4) == []
    # a space without those values offers none of them
    assert StageSpace(channels=(8, 16)).known_good(1) == [StageSpace().known_good(1)[1]]
    assert StageSpace(channels=(8,)).known_good(1) == []


@pytest.mark.parametrize("seed", range(4))
def test_random_deep_chromosomes_build_valid_models_for_small_images(seed):
    space = StageSpace()
    genes = space.random_genes(5, random.Random(seed))  # five pools on 8x8 stay valid
    model = space.build(genes, (8, 8, 1), 10)
    assert model.output_shape == (None, 10)
    assert len(space.describe(genes)) == 6


def test_residual_stages_add_a_shortcut_and_config_round_trips():
    space = StageSpace()
    resnet = space.known_good(2)[1]
    names = [layer.name for layer in space.build(resnet, (16, 16, 3), 4).layers]
    assert "block0_skip" in names and "block1_add" in names
    again = SearchSpace.from_config(space.get_config())
    assert isinstance(again, StageSpace) and again.get_config() == space.get_config()


def test_the_vlga_starts_each_phase_from_the_known_good_stages():
    ga = VariableLengthGA(StageSpace(), population=6, seed=0, verbose=0)
    first = ga._first_state().population
    assert first[:2] == StageSpace().known_good(1)
    assert len(first) == 6
    # a small population keeps at least half of its random individuals
    tiny = VariableLengthGA(StageSpace(), population=2, seed=0, verbose=0)._first_state()
    assert tiny.population[0] == StageSpace().known_good(1)[0]
    assert tiny.population[1] not in StageSpace().known_good(1)
