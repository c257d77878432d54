"""The thesis CNN space (Xiao, Table 2.1 and Figs. 2.2-2.4)."""

from __future__ import annotations

from automl_kit.search.space import Gene, SearchSpace
from automl_kit.zoo import batch_norm

THESIS_CHANNELS = (8, 16, 32, 64, 128, 256, 512)
THESIS_KERNELS = (1, 3, 5, 7, 9)
ACTIVATIONS = ("relu", "tanh", "elu", "selu")


class CNNSpace(SearchSpace):
    """Blocks of one or two conv layers (a, b) with optional pooling after a and a 1x1-conv skip.

    Phase 0 has 4 x (7 x 5 x 2)^2 x 2 x 2 x 2 = 156,800 combinations. Later blocks add the
    gene ``include_b`` (0: layer a only). Pooling uses ``padding="same"`` so any depth is a
    valid model, even after the feature map has shrunk to 1x1.

    >>> space = CNNSpace()              # the thesis space
    >>> space.size(0)
    156800
    >>> small = CNNSpace.compact()      # channels <= 64, kernels <= 5: for CPU budgets
    """

    name = "cnn"

    def __init__(
        self,
        channels=THESIS_CHANNELS,
        kernels=THESIS_KERNELS,
        activations=ACTIVATIONS,
        head: str = "flatten",
    ):
        if head not in ("flatten", "gap"):
            raise ValueError(f"head must be 'flatten' or 'gap', got {head!r}.")
        self.channels, self.kernels, self.activations, self.head = (
            tuple(channels),
            tuple(kernels),
            tuple(activations),
            head,
        )

        def layer(role):
            return (
                Gene(f"{role}_channels", self.channels),
                Gene(f"{role}_kernel", self.kernels),
                Gene(f"{role}_batch_norm", (0, 1)),
            )

        block = (
            *layer("a"),
            *layer("b"),
            Gene("pooling", (0, 1)),
            Gene("pooling_type", ("max", "avg")),
            Gene("skip", (0, 1)),
        )
        self.global_genes = (Gene("activation", self.activations),)
        self.first_block_genes = block
        self.block_genes = (Gene("include_b", (0, 1)), *block)

    @classmethod
    def compact(cls, **kwargs) -> CNNSpace:
        """The thesis genes with channels 8..64 and kernels 1..5, sized for CPU searches."""
        return cls(channels=(8, 16, 32, 64), kernels=(1, 3, 5), **kwargs)

    def get_config(self) -> dict:
        return {
            "kind": self.name,
            "channels": list(self.channels),
            "kernels": list(self.kernels),
            "activations": list(self.activations),
            "head": self.head,
        }

    def input_rank(self) -> int:
        return 4

    def _blocks(self, genes):
        arch = self.decode(genes)
        for block in arch["blocks"]:
            yield block, bool(block.get("include_b", 1))

    def canonical(self, genes) -> tuple:
        first = {g.name: g.choices[0] for g in self.block_genes}
        arch = self.decode(genes)
        for block in arch["blocks"]:
            if not block["pooling"]:
                block["pooling_type"] = first["pooling_type"]
            if not block.get("include_b", 1):
                for gene in ("b_channels", "b_kernel", "b_batch_norm"):
                    block[gene] = first[gene]
        return tuple(self.encode(arch))

    def build(self, genes, input_shape, num_classes):
        import keras
        from keras import layers

        activation = self.decode(genes)["global"]["activation"]

        def conv(x, block, i, role):
            x = layers.Conv2D(
                block[f"{role}_channels"],
                block[f"{role}_kernel"],
                padding="same",
                name=f"block{i}_{role}_conv",
            )(x)
            if block[f"{role}_batch_norm"]:
                x = batch_norm(f"block{i}_{role}_bn")(x)
            return x

        inputs = keras.Input(tuple(input_shape), name="input")
        x = inputs
        for i, (block, has_b) in enumerate(self._blocks(genes)):
            block_input = x
            x = layers.Activation(activation, name=f"block{i}_a_act")(conv(x, block, i, "a"))
            if block["pooling"]:
                pool = (
                    layers.MaxPooling2D
                    if block["pooling_type"] == "max"
                    else layers.AveragePooling2D
                )
                x = pool(2, padding="same", name=f"block{i}_pool")(x)
            if has_b:
                x = conv(x, block, i, "b")
            if block["skip"]:
                filters = x.shape[-1]
                stride = 2 if block["pooling"] else 1
                shortcut = layers.Conv2D(
                    filters, 1, strides=stride, padding="same", name=f"block{i}_skip"
                )(block_input)
                x = layers.Add(name=f"block{i}_add")([x, shortcut])
            if has_b:
                x = layers.Activation(activation, name=f"block{i}_b_act")(x)
        x = (
            layers.Flatten(name="flatten")(x)
            if self.head == "flatten"
            else layers.GlobalAveragePooling2D(name="gap")(x)
        )
        outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
        return keras.Model(inputs, outputs, name=f"cnn_{len(list(self._blocks(genes)))}blocks")

    def describe(self, genes) -> list[str]:
        arch = self.decode(genes)
        act = arch["global"]["activation"]
        lines = []
        for i, (block, has_b) in enumerate(self._blocks(genes)):
            lines.append(
                f"block{i} conv a: {block['a_channels']} x {block['a_kernel']}x{block['a_kernel']}{' + BN' if block['a_batch_norm'] else ''}, {act}"
            )
            if block["pooling"]:
                lines.append(f"block{i} {block['pooling_type']} pool 2x2")
            if has_b:
                lines.append(
                    f"block{i} conv b: {block['b_channels']} x {block['b_kernel']}x{block['b_kernel']}{' + BN' if block['b_batch_norm'] else ''}, {act}"
                )
            if block["skip"]:
                lines.append(f"block{i} skip: 1x1 conv of the block input, added")
        lines.append(
            f"{'flatten' if self.head == 'flatten' else 'global average pool'} -> dense softmax"
        )
        return lines

    structural_genes = ("include_b",)

    def depth(self, genes) -> int:
        """Number of conv layers (a and b) the genes build, skip convs not counted."""
        return sum(1 + has_b for _, has_b in self._blocks(genes))

    def random_genes_of_depth(self, depth: int, rng) -> list:
        """Block 0 holds two conv layers; later blocks one or two, drawn at random."""
        if depth < 2:
            raise ValueError(f"a CNN of this space has at least 2 conv layers, got depth={depth}.")
        sizes, left = [], depth - 2
        while left:
            size = 2 if left >= 2 and rng.random() < 0.5 else 1
            sizes.append(size)
            left -= size
        arch = self.decode(self.random_genes(1 + len(sizes), rng))
        for block, size in zip(arch["blocks"][1:], sizes):
            block["include_b"] = size - 1
        return self.encode(arch)
