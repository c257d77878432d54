"""EHR and other tables as images for CNNs (Xiao, thesis Part 5).

Relations between diagnoses and treatments (Eq. 5.1) decide where each code sits on a grid:
a permutation GA (Alg. 3) places treatments beside their related diagnoses; rivals (random,
a DeepInsight-style embedding, IGTD) share one interface (``automl_kit.registries.LAYOUTS``).
:class:`EHRImageMapper` turns patients into images (time windows as channels),
:func:`overlay_augment` (Eq. 5.2) and :func:`drop_confusing` (Alg. 4) prepare training data, and
:class:`CNNBoostedClassifier` combines a CNN on the images with a tree model (Fig. 5.7).
TensorFlow is imported only when a CNN is trained.

Caveats: the CNN can make the ranking worse than the tree model alone (a weak CNN averaged in
at a fixed weight); use ``weight="auto"`` or ``combine="stacker"`` and compare ``scores(X)``.
In the diabetes data (``diabetes_events``) most patients have one encounter before the index
one, so their images fill a single window (channel): the time axis carries little there.
"""

from automl_kit.ehr.augment import drop_confusing, overlay_augment
from automl_kit.ehr.booster import CNNBoostedClassifier
from automl_kit.ehr.fitness import LayoutFitness, check_layout, to_chromosome, to_layout
from automl_kit.ehr.job import BoostResult, boost
from automl_kit.ehr.layouts.base import (
    LayoutMaker,
    LayoutProblem,
    LayoutResult,
    feature_distances,
    grid_shape,
)
from automl_kit.ehr.layouts.embedding import EmbeddingLayout
from automl_kit.ehr.layouts.ga import PermutationGA, ordered_crossover, swap_mutation
from automl_kit.ehr.layouts.igtd import IGTDLayout
from automl_kit.ehr.layouts.random import RandomLayout
from automl_kit.ehr.mapper import EHRImageMapper, counts_to_images
from automl_kit.ehr.relations import conditional_probabilities
from automl_kit.ehr.speed import layout_speed, planted_relations

__all__ = [
    "BoostResult",
    "boost",
    "CNNBoostedClassifier",
    "EHRImageMapper",
    "EmbeddingLayout",
    "IGTDLayout",
    "LayoutFitness",
    "LayoutMaker",
    "LayoutProblem",
    "LayoutResult",
    "PermutationGA",
    "RandomLayout",
    "check_layout",
    "conditional_probabilities",
    "counts_to_images",
    "drop_confusing",
    "feature_distances",
    "grid_shape",
    "layout_speed",
    "ordered_crossover",
    "overlay_augment",
    "planted_relations",
    "swap_mutation",
    "to_chromosome",
    "to_layout",
]
