import random

import pytest

from automl_kit.search import CNNSpace, DenseSpace, Gene
from tests.search.conftest import tiny_space


def test_thesis_phase0_size_is_156800():
    assert CNNSpace().size(0) == 156_800
    # a later phase searches one block with the extra "include layer b?" gene
    assert CNNSpace().size(1) == 2 * 70 * 70 * 8


def test_segments_partition_the_chromosome():
    space = CNNSpace()
    assert list(space.segment(0)) == list(range(10))
    assert list(space.segment(1)) == list(range(10, 20))
    assert space.length(3) == 30 and space.n_blocks([0] * 30) == 3


def test_decode_encode_round_trip():
    space = CNNSpace()
    genes = space.random_genes(4, random.Random(1))
    assert space.encode(space.decode(genes)) == genes


def test_invalid_gene_value_is_named():
    space = CNNSpace()
    genes = space.random_genes(1, random.Random(0))
    genes[1] = 3  # a_channels
    with pytest.raises(ValueError, match="block 0 gene 'a_channels' = 3 is not one of"):
        space.decode(genes)
    with pytest.raises(ValueError, match="cannot have 11 genes"):
        space.n_blocks(genes + [1])


def test_gene_needs_distinct_choices():
    with pytest.raises(ValueError, match="duplicate"):
        Gene("x", (1, 1))


@pytest.mark.parametrize("seed", range(6))
def test_every_chromosome_builds_the_layers_its_genes_say(seed):
    space = CNNSpace(channels=(4, 8, 16), kernels=(1, 3, 5))
    rng = random.Random(seed)
    genes = space.random_genes(rng.randint(1, 4), rng)
    model = space.build(genes, (8, 8, 1), 10)
    arch = space.decode(genes)
    names = {layer.name: layer for layer in model.layers}
    for i, block in enumerate(arch["blocks"]):
        has_b = block.get("include_b", 1) == 1
        conv_a = names[f"block{i}_a_conv"]
        assert (
            conv_a.filters == block["a_channels"] and conv_a.kernel_size == (block["a_kernel"],) * 2
        )
        assert (f"block{i}_a_bn" in names) == bool(block["a_batch_norm"])
        assert (f"block{i}_b_conv" in names) == has_b
        if has_b:
            assert names[f"block{i}_b_conv"].filters == block["b_channels"]
            assert (f"block{i}_b_bn" in names) == bool(block["b_batch_norm"])
        assert (f"block{i}_pool" in names) == bool(block["pooling"])
        if block["pooling"]:
            expected = "MaxPooling2D" if block["pooling_type"] == "max" else "AveragePooling2D"
            assert type(names[f"block{i}_pool"]).__name__ == expected
        assert (f"block{i}_skip" in names) == bool(block["skip"])
        assert names[f"block{i}_a_act"].get_config()["activation"] == arch["global"]["activation"]
    assert space.depth(genes) == sum(n.endswith(("_a_conv", "_b_conv")) for n in names)
    assert model.output_shape == (None, 10)


def test_deep_models_stay_valid_after_the_map_is_1x1():
    space = tiny_space()
    genes = space.random_genes(1, random.Random(0))
    block = space.decode(genes)["blocks"][0]
    block["pooling"] = 1
    arch = {"global": {"activation": "relu"}, "blocks": [block] + [{**block, "include_b": 1}] * 5}
    model = space.build(space.encode(arch), (8, 8, 1), 10)
    assert model.get_layer("block5_pool").output.shape[1:3] == (1, 1)


def test_canonical_ignores_inactive_genes():
    space = tiny_space()
    genes = space.random_genes(2, random.Random(3))
    arch = space.decode(genes)
    arch["blocks"][1].update(include_b=0, pooling=0)
    a = space.encode(arch)
    arch["blocks"][1].update(
        b_channels=8 if arch["blocks"][1]["b_channels"] == 4 else 4, pooling_type="avg"
    )
    b = space.encode(arch)
    assert a != b and space.canonical(a) == space.canonical(b)


def test_dense_space_builds_its_blocks():
    space = DenseSpace()
    assert space.size(0) == 4 * 6 * 4 * 2
    genes = space.random_genes(3, random.Random(0))
    model = space.build(genes, (12,), 3)
    assert [l.units for l in model.layers if l.name.endswith("_dense")] == [
        b["units"] for b in space.decode(genes)["blocks"]
    ]
    assert model.output_shape == (None, 3)


def test_space_config_round_trip():
    from automl_kit.search import SearchSpace

    space = CNNSpace.compact(head="gap")
    again = SearchSpace.from_config(space.get_config())
    assert again.get_config() == space.get_config()
    with pytest.raises(
        ValueError, match="unknown search space 'transformer'; choose one of: cnn, dense"
    ):
        SearchSpace.from_config({"kind": "transformer"})
