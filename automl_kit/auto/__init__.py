"""One command from data to a better, diagnosed model: floor, search, diagnose, act, report.

The package itself is callable, so ``automl_kit.auto(data, time_budget="20m")`` is
:func:`automl_kit.auto.auto`.

>>> import automl_kit
>>> from automl_kit.auto import STEPS
>>> STEPS[0], STEPS[-1], callable(automl_kit.auto)
('floor', 'ensemble', True)
"""

import sys
import types

from automl_kit.auto.job import STEPS, auto, plan
from automl_kit.auto.result import AutoResult

__all__ = ["STEPS", "AutoResult", "auto", "plan"]


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`auto` (the one entry point a user types first)."""

    def __call__(self, *args, **kwargs) -> AutoResult:
        return auto(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
