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

from automl_kit._compat import producing_layer

NORMALIZATION = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
)


@dataclass(frozen=True)
class Unit:
    """One freezable unit: a weighted layer and the normalisation layers it feeds directly."""

    name: str
    layers: tuple[keras.layers.Layer, ...]

    @property
    def variables(self) -> list:
        """The unit's trainable variables now (empty while its layers are ``trainable=False``)."""
        return [v for layer in self.layers for v in layer.trainable_variables]


def _producer(layer: keras.layers.Layer):
    """The layer whose output feeds ``layer`` (None for several inputs or none)."""
    try:
        tensor = layer.input
    except (AttributeError, ValueError):  # never called, or called on several inputs
        return None
    return producing_layer(tensor)


def freezable_units(model: keras.Model) -> list[Unit]:
    """Group ``model``'s trainable layers into freezable units (see module docstring).

    >>> inputs = keras.Input((8, 8, 1))
    >>> x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> x = keras.layers.BatchNormalization(name="bn")(x)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    >>> [(u.name, len(u.layers)) for u in freezable_units(model)]
    [('conv', 2), ('head', 1)]
    """
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


def variables_after(units: list[Unit], prefix: int, variables: list) -> list:
    """``variables`` less those of the first ``prefix`` units: what trains with that prefix frozen.

    ``units`` must have been grouped while their layers were trainable (their variables are read
    now, so call this before freezing anything, or keep its result).
    """
    frozen = {id(v) for unit in units[:prefix] for v in unit.variables}
    return [v for v in variables if id(v) not in frozen]
