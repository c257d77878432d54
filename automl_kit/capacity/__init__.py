"""Dynamic network capacity with partial (slice) freezing (the dynamic-capacity thesis, Ch. 4-5).

Layers whose width is allocated up front in chunks, of which an *active* prefix is computed and a
*frozen* prefix is held fixed; a :class:`Capacity` that swaps in one compiled train step per
width configuration; a :class:`GrowthController` that grows the width when the training loss
plateaus (or on a fixed schedule); builders (an MLP, the thesis's MNIST conv net, a CIFAR ResNet
whose shortcuts project to the active width); and rival ways of starting new units (zero outgoing
weights, the thesis's allocated weights, Net2Net, GradMax for dense and conv layers).

>>> from automl_kit.capacity import partial_mlp, Capacity, GrowthController
>>> model = partial_mlp(1, 1, hidden=(500,), chunks=5, active=1)
>>> model.get_layer("hidden_0").active_units
100
"""

from automl_kit.capacity.builders import partial_mlp, partial_mnist_convnet, partial_resnet, resnet
from automl_kit.capacity.controller import GrowthController
from automl_kit.capacity.conv import PartialConv2D
from automl_kit.capacity.dense import PartialDense
from automl_kit.capacity.job import GrowthResult, grow
from automl_kit.capacity.plots import plot_schedule
from automl_kit.capacity.starts import (
    STARTS,
    GradMax,
    GrowthStart,
    KeepInit,
    Net2Net,
    ZeroOutgoing,
    get_start,
)
from automl_kit.capacity.state import Capacity, model_flops, partial_layers

__all__ = [
    "STARTS",
    "Capacity",
    "GradMax",
    "GrowthController",
    "GrowthResult",
    "GrowthStart",
    "KeepInit",
    "Net2Net",
    "PartialConv2D",
    "PartialDense",
    "ZeroOutgoing",
    "get_start",
    "grow",
    "model_flops",
    "partial_layers",
    "partial_mlp",
    "partial_mnist_convnet",
    "partial_resnet",
    "plot_schedule",
    "resnet",
]
