"""Built-in search spaces; ``SPACES`` maps a config ``kind`` to its class."""

from automl_kit.search.spaces.cnn import CNNSpace
from automl_kit.search.spaces.dense import DenseSpace

SPACES = {CNNSpace.name: CNNSpace, DenseSpace.name: DenseSpace}

__all__ = ["SPACES", "CNNSpace", "DenseSpace"]
