"""The random layout: features in cells drawn uniformly (the baseline every layout must beat).

>>> from automl_kit.ehr.layouts.random import RandomLayout
>>> import numpy as np, pandas as pd
>>> from automl_kit.ehr.layouts.base import LayoutProblem
>>> problem = LayoutProblem.from_relations(pd.DataFrame([[0.5]], ["dx:a"], ["rx:b"]))
>>> sorted(RandomLayout(seed=0).make(problem).layout.tolist())
[-1, -1, 0, 1]
"""

from __future__ import annotations

import numpy as np

from automl_kit.ehr.fitness import to_layout
from automl_kit.ehr.layouts.base import LayoutMaker, LayoutProblem


class RandomLayout(LayoutMaker):
    """A uniformly random permutation of the grid's cells (NumPy ``default_rng(seed)``)."""

    name = "random"

    def _make(self, problem: LayoutProblem) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return to_layout(rng.permutation(problem.cells), problem.n_features)
