"""A dense-network space for tabular data: the same variable-length GA, other genes."""

from __future__ import annotations

from automl_kit.search.space import Gene, SearchSpace
from automl_kit.zoo import batch_norm

UNITS = (16, 32, 64, 128, 256, 512)
DROPOUT = (0.0, 0.1, 0.25, 0.5)
ACTIVATIONS = ("relu", "tanh", "elu", "selu")


class DenseSpace(SearchSpace):
    """Each block is one Dense layer (units, dropout, batch norm); the activation is global.

    >>> DenseSpace().size(0)
    192
    """

    name = "dense"

    def __init__(self, units=UNITS, dropout=DROPOUT, activations=ACTIVATIONS):
        self.units, self.dropout, self.activations = (
            tuple(units),
            tuple(dropout),
            tuple(activations),
        )
        block = (
            Gene("units", self.units),
            Gene("dropout", self.dropout),
            Gene("batch_norm", (0, 1)),
        )
        self.global_genes = (Gene("activation", self.activations),)
        self.first_block_genes = block
        self.block_genes = block

    def get_config(self) -> dict:
        return {
            "kind": self.name,
            "units": list(self.units),
            "dropout": list(self.dropout),
            "activations": list(self.activations),
        }

    def input_rank(self) -> int:
        return 2

    def build(self, genes, input_shape, num_classes):
        import keras
        from keras import layers

        arch = self.decode(genes)
        inputs = keras.Input(tuple(input_shape), name="input")
        x = inputs
        for i, block in enumerate(arch["blocks"]):
            x = layers.Dense(block["units"], name=f"block{i}_dense")(x)
            if block["batch_norm"]:
                x = batch_norm(f"block{i}_bn")(x)
            x = layers.Activation(arch["global"]["activation"], name=f"block{i}_act")(x)
            if block["dropout"]:
                x = layers.Dropout(block["dropout"], name=f"block{i}_dropout")(x)
        outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
        return keras.Model(inputs, outputs, name=f"dense_{len(arch['blocks'])}blocks")

    def describe(self, genes) -> list[str]:
        arch = self.decode(genes)
        act = arch["global"]["activation"]
        lines = [
            f"block{i} dense {b['units']}{' + BN' if b['batch_norm'] else ''}, {act}"
            + (f", dropout {b['dropout']}" if b["dropout"] else "")
            for i, b in enumerate(arch["blocks"])
        ]
        return lines + ["dense softmax"]
