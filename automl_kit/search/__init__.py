"""Architecture search: the variable-length GA (Xiao, Part 2), its search spaces and results.

>>> from automl_kit.search import VariableLengthGA, CNNSpace
>>> ga = VariableLengthGA(CNNSpace.compact(), population=8, generations=3)   # doctest: +SKIP
"""

# name -> search algorithm, for the CLI and benchmarks: the one registry (peers included)
from automl_kit.registries import SEARCHERS  # noqa: E402
from automl_kit.search.base import Searcher, SearchState
from automl_kit.search.classical_ga import ClassicalGA
from automl_kit.search.job import evolve
from automl_kit.search.large_scale_evolution import LargeScaleEvolution
from automl_kit.search.random_search import RandomSearch
from automl_kit.search.result import FinalFit, SearchResult
from automl_kit.search.space import Gene, SearchSpace
from automl_kit.search.spaces import CNNSpace, DenseSpace, StageSpace
from automl_kit.search.vlga import VariableLengthGA

__all__ = [
    "SEARCHERS",
    "CNNSpace",
    "ClassicalGA",
    "evolve",
    "DenseSpace",
    "StageSpace",
    "FinalFit",
    "Gene",
    "LargeScaleEvolution",
    "RandomSearch",
    "SearchResult",
    "SearchSpace",
    "SearchState",
    "Searcher",
    "VariableLengthGA",
]
