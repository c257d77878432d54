"""Fixes for third-party packages under Keras 3, kept in one place.

Spektral 1.3.1's ``GCNConv.call`` breaks under Keras 3: Keras passes ``mask=[None, None]``
for the ``[x, a]`` input list and Spektral treats any non-None mask as a tensor. The
subclass below maps an all-None mask list to ``None`` and registers itself for ``.keras``
serialisation. Every capability imports ``GCNConv`` from here, never from Spektral.
"""

from __future__ import annotations

import keras
from spektral.layers import GCNConv as _SpektralGCNConv


@keras.saving.register_keras_serializable(package="automl_kit")
class GCNConv(_SpektralGCNConv):
    """Spektral's graph convolution (Kipf & Welling 2017) usable, trainable and savable in Keras 3.

    >>> x = keras.Input((5, 8)); a = keras.Input((5, 5))          # doctest: +SKIP
    >>> h = GCNConv(16, activation="relu")([x, a])                # doctest: +SKIP
    """

    def call(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)) and all(m is None for m in mask):
            mask = None
        return super().call(inputs, mask=mask)


def producing_layer(tensor) -> keras.Operation | None:
    """The layer (operation) whose output is the symbolic ``tensor``; None for an ``Input``.

    Pinned to Keras 3's private ``KerasTensor._keras_history`` (operation, node index, tensor
    index), the one record of a functional graph edge; tests/test_compat.py fails loudly if an
    upgrade renames it. Public alternatives (``model.get_config()``'s inbound nodes) name layers,
    not objects, and cost a full serialisation per query.
    """
    history = getattr(tensor, "_keras_history", None)
    operation = getattr(history, "operation", None)
    if operation is None or isinstance(operation, keras.layers.InputLayer):
        return None
    return operation
