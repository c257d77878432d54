"""The freezable units of a model: its weighted layers in input-to-output order.

A normalisation layer fed directly by a weighted layer joins that layer's unit (conv + its BN are
one "layer" in Xiao's figures, e.g. 18 units for ResNet-18 in Fig. 3.2); other weighted layers are
units of their own. Units are ordered by their first layer's position in ``model.layers``, which
is topological for functional and sequential models, so freezing units 1..n never leaves a
trainable variable upstream of a frozen one: no gradient has to flow through the frozen prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

NORMALIZATION = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
)


@dataclass(frozen=True)
class Unit:
    name: str
    layers: tuple[keras.layers.Layer, ...]

    @property
    def variables(self) -> list:
        return [v for layer in self.layers for v in layer.trainable_variables]


def _producer(layer: keras.layers.Layer):
    """The layer whose output feeds ``layer`` (None for several inputs or none)."""
    try:
        history = layer.input._keras_history  # Keras 3 functional graph record
    except (AttributeError, ValueError):
        return None
    return getattr(history, "operation", None)


def freezable_units(model: keras.Model) -> list[Unit]:
    """Group ``model``'s trainable layers into freezable units (see module docstring)."""
    if not model.built:
        raise ValueError("the model is not built; call it on data or give it an Input first.")
    weighted = [layer for layer in model.layers if layer.trainable_weights]
    if not weighted:
        raise ValueError(
            f"model {model.name!r} has no trainable weights; nothing to train or freeze."
        )
    owner: dict[int, int] = {}
    members: list[list[keras.layers.Layer]] = []
    for layer in weighted:
        producer = _producer(layer) if isinstance(layer, NORMALIZATION) else None
        if producer is not None and id(producer) in owner:
            members[owner[id(producer)]].append(layer)
            owner[id(layer)] = owner[id(producer)]
        else:
            owner[id(layer)] = len(members)
            members.append([layer])
    return [Unit(group[0].name, tuple(group)) for group in members]
