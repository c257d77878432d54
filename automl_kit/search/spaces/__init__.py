"""Built-in search spaces; ``SPACES`` (the registry of :mod:`automl_kit.registries`) maps a config ``kind`` to its class."""

from automl_kit.registries import SPACES
from automl_kit.search.spaces.cnn import CNNSpace
from automl_kit.search.spaces.dense import DenseSpace
from automl_kit.search.spaces.stages import StageSpace

__all__ = ["SPACES", "CNNSpace", "DenseSpace", "StageSpace"]
