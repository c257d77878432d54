"""Stages of convolutions: the space of the textbook CNN, VGG and narrow ResNets (issue 24).

Each block is a *stage*: ``convs`` convolutions of ``kernel`` x ``kernel`` with ``channels``
channels, each with BatchNorm (gene) and the activation, an optional residual shortcut around
the stage (a 1x1 convolution where the channels change) and an optional 2x2 max pool after it.
The head is global average pooling, dropout (a global gene) and a softmax ``Dense``. Models
grow stage by stage, so the variable-length GA's phase ``p`` searches stage ``p``.

The textbook CNN (``zoo.textbook_cnn``: 32/64/128 channels, two 3x3 conv-BN-ReLU each, pools
after the first two stages, dropout 0.3) is a member, and :meth:`StageSpace.known_good` gives
its first stages (and a narrow residual net's) so that a search can start from them.

>>> space = StageSpace()
>>> space.size(0)
1152
>>> space.decode(space.known_good(3)[0])["blocks"][2]["channels"]
128
"""

from __future__ import annotations

from automl_kit.search.space import Gene, SearchSpace
from automl_kit.zoo import batch_norm

CHANNELS = (16, 32, 64, 128)
CONVS = (1, 2, 3)
KERNELS = (3, 5)
ACTIVATIONS = ("relu", "elu", "swish")
DROPOUT = (0.0, 0.3)

# (activation, dropout) and per stage (channels, convs, kernel, batch_norm, skip, pool)
_TEXTBOOK = (("relu", 0.3), [(32, 2, 3, 1, 0, 1), (64, 2, 3, 1, 0, 1), (128, 2, 3, 1, 0, 0)])
_NARROW_RESNET = (("relu", 0.0), [(16, 2, 3, 1, 1, 1), (32, 2, 3, 1, 1, 1), (64, 2, 3, 1, 1, 0)])


class StageSpace(SearchSpace):
    """Blocks are stages (channels, convs, kernel, batch_norm, skip, pool); GAP-dropout head."""

    name = "stages"

    def __init__(
        self,
        channels=CHANNELS,
        convs=CONVS,
        kernels=KERNELS,
        activations=ACTIVATIONS,
        dropout=DROPOUT,
    ):
        self.channels, self.convs, self.kernels = tuple(channels), tuple(convs), tuple(kernels)
        self.activations, self.dropout = tuple(activations), tuple(dropout)
        stage = (
            Gene("channels", self.channels),
            Gene("convs", self.convs),
            Gene("kernel", self.kernels),
            Gene("batch_norm", (0, 1)),
            Gene("skip", (0, 1)),
            Gene("pool", (0, 1)),
        )
        self.global_genes = (
            Gene("activation", self.activations),
            Gene("dropout", self.dropout),
        )
        self.first_block_genes = stage
        self.block_genes = stage

    def get_config(self) -> dict:
        return {
            "kind": self.name,
            "channels": list(self.channels),
            "convs": list(self.convs),
            "kernels": list(self.kernels),
            "activations": list(self.activations),
            "dropout": list(self.dropout),
        }

    def input_rank(self) -> int:
        return 4

    def known_good(self, n_blocks: int) -> list[list]:
        """Chromosomes of ``n_blocks`` stages a search can start from: the first stages of the
        textbook CNN and of a narrow residual net, where this space holds their genes."""
        found = []
        for (activation, dropout), stages in (_TEXTBOOK, _NARROW_RESNET):
            if n_blocks > len(stages):
                continue
            names = [g.name for g in self.block_genes]
            chromosome = {
                "global": {"activation": activation, "dropout": dropout},
                "blocks": [dict(zip(names, stage)) for stage in stages[:n_blocks]],
            }
            try:
                found.append(self.encode(chromosome))
            except ValueError:  # a narrowed space without these values
                continue
        return found

    def build(self, genes, input_shape, num_classes):
        import keras
        from keras import layers

        arch = self.decode(genes)
        activation = arch["global"]["activation"]
        inputs = keras.Input(tuple(input_shape), name="input")
        x = inputs
        for i, stage in enumerate(arch["blocks"]):
            stage_input = x
            for j in range(stage["convs"]):
                x = layers.Conv2D(
                    stage["channels"],
                    stage["kernel"],
                    padding="same",
                    use_bias=not stage["batch_norm"],  # BatchNorm's offset replaces the bias
                    name=f"block{i}_conv{j}",
                )(x)
                if stage["batch_norm"]:
                    x = batch_norm(f"block{i}_bn{j}")(x)
                last = j == stage["convs"] - 1
                if not (last and stage["skip"]):  # with a shortcut: activate after the sum
                    x = layers.Activation(activation, name=f"block{i}_act{j}")(x)
            if stage["skip"]:
                shortcut = stage_input
                if stage_input.shape[-1] != stage["channels"]:
                    shortcut = layers.Conv2D(
                        stage["channels"], 1, padding="same", name=f"block{i}_skip"
                    )(stage_input)
                x = layers.Add(name=f"block{i}_add")([x, shortcut])
                x = layers.Activation(activation, name=f"block{i}_act")(x)
            if stage["pool"]:
                x = layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        if arch["global"]["dropout"]:
            x = layers.Dropout(arch["global"]["dropout"], name="dropout")(x)
        outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
        return keras.Model(inputs, outputs, name=f"stages_{len(arch['blocks'])}")

    def describe(self, genes) -> list[str]:
        arch = self.decode(genes)
        act = arch["global"]["activation"]
        lines = []
        for i, s in enumerate(arch["blocks"]):
            bn = " + BN" if s["batch_norm"] else ""
            lines.append(
                f"stage{i}: {s['convs']} x conv {s['channels']} x {s['kernel']}x{s['kernel']}{bn}, "
                f"{act}{', residual' if s['skip'] else ''}{', max pool 2x2' if s['pool'] else ''}"
            )
        dropout = arch["global"]["dropout"]
        lines.append(
            f"global average pool{f' -> dropout {dropout}' if dropout else ''} -> dense softmax"
        )
        return lines
