"""How new units start when a partial layer grows: one rival per file behind ``GrowthStart``.

>>> from automl_kit.capacity.starts import STARTS
>>> sorted(STARTS)
['gradmax', 'keep_init', 'net2net', 'zero_outgoing']
"""

from automl_kit.capacity.starts.base import GrowthStart
from automl_kit.capacity.starts.gradmax import GradMax
from automl_kit.capacity.starts.keep_init import KeepInit
from automl_kit.capacity.starts.net2net import Net2Net
from automl_kit.capacity.starts.zero_outgoing import ZeroOutgoing

STARTS = {cls.name: cls for cls in (ZeroOutgoing, KeepInit, Net2Net, GradMax)}


def get_start(start) -> GrowthStart:
    """A ``GrowthStart`` from itself, a name, or ``{"name": ..., **config}``."""
    if isinstance(start, GrowthStart):
        return start
    config = {}
    if isinstance(start, dict):
        config = {k: v for k, v in start.items() if k != "name"}
        start = start.get("name")
    from automl_kit.registries import GROWTH_STARTS

    return GROWTH_STARTS.get(start).from_config(config)  # one "unknown growth start" error


__all__ = ["STARTS", "GradMax", "GrowthStart", "KeepInit", "Net2Net", "ZeroOutgoing", "get_start"]
