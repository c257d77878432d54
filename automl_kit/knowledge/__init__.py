"""Class-similarity knowledge: misclassification graphs, PK-GCN heads and knowledge masks (Xiao, Part 4).

A trained classifier's validation mistakes define a directed class graph
(:func:`misclassification_graph`); :func:`add_class_similarity_head` replaces its ``Dense(K)``
head by a graph convolution over the classes (PK-GCN-1/2, Eq. 4.4/4.5) for a second training
stage (:mod:`automl_kit.knowledge.experiments`). The preliminary study's knowledge masks
(:class:`KnowledgeMask`, Eq. 4.2/4.3) drop classes whose Fourier-descriptor templates
(:func:`fourier_descriptor`, :func:`class_templates`) are far from the sample, during training only.

>>> import numpy as np
>>> from automl_kit.knowledge import graph_from_predictions, graph_filter
>>> graph = graph_from_predictions(np.array([0, 1]), np.array([[0.2, 0.8], [0.1, 0.9]]))
>>> graph.tolist(), graph_filter(graph, "directed").round(2).tolist()
([[0.0, 1.0], [0.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]])
"""

from automl_kit.knowledge.builders import base_cnn, small_vgg
from automl_kit.knowledge.embeddings import class_biases, class_embeddings, data_embeddings
from automl_kit.knowledge.experiments import HEADS, compare_two_stage, train_two_stage
from automl_kit.knowledge.fourier import (
    class_templates,
    fourier_descriptor,
    fourier_descriptors,
    printed_digit_templates,
    printed_digits,
    template_distances,
    template_quality,
)
from automl_kit.knowledge.graph import (
    DIRECTIONS,
    count_edges,
    graph_filter,
    graph_from_predictions,
    misclassification_graph,
)
from automl_kit.knowledge.head import ClassGraphHead, add_class_similarity_head
from automl_kit.knowledge.mask import KnowledgeMask, masked_training_model
from automl_kit.knowledge.plots import plot_class_graph

__all__ = [
    "DIRECTIONS",
    "HEADS",
    "ClassGraphHead",
    "KnowledgeMask",
    "add_class_similarity_head",
    "base_cnn",
    "class_biases",
    "class_embeddings",
    "class_templates",
    "compare_two_stage",
    "count_edges",
    "data_embeddings",
    "fourier_descriptor",
    "fourier_descriptors",
    "graph_filter",
    "graph_from_predictions",
    "masked_training_model",
    "misclassification_graph",
    "plot_class_graph",
    "printed_digit_templates",
    "printed_digits",
    "small_vgg",
    "template_distances",
    "template_quality",
    "train_two_stage",
]
