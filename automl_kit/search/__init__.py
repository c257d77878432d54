"""Architecture search: the variable-length GA (Xiao, Part 2), its search spaces and results.

>>> from automl_kit.search import VariableLengthGA, CNNSpace
>>> ga = VariableLengthGA(CNNSpace.compact(), population=8, generations=3)   # doctest: +SKIP
"""

from automl_kit.search.base import Searcher
from automl_kit.search.result import FinalFit, SearchResult
from automl_kit.search.space import Gene, SearchSpace
from automl_kit.search.spaces import CNNSpace, DenseSpace
from automl_kit.search.vlga import VariableLengthGA

__all__ = [
    "CNNSpace",
    "DenseSpace",
    "FinalFit",
    "Gene",
    "SearchResult",
    "SearchSpace",
    "Searcher",
    "VariableLengthGA",
]
