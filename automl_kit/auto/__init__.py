"""One command from data to a better, diagnosed model: floor, search, diagnose, act, report.

>>> from automl_kit.auto import STEPS
>>> STEPS[0], STEPS[-1]
('floor', 'tweak')
"""

from automl_kit.auto.job import STEPS, auto, plan
from automl_kit.auto.result import AutoResult

__all__ = ["STEPS", "AutoResult", "auto", "plan"]
