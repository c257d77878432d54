"""FreezeOut (Brock, Lim, Ritchie & Weston 2017, arXiv:1706.04983)."""

from __future__ import annotations

import math

import numpy as np

from automl_kit.freezing.policies.base import FreezingPolicy


class FreezeOut(FreezingPolicy):
    """Anneal each layer's learning rate to zero at its own time t_i, then freeze it.

    Layer i of L (the last one included) gets ``t_i = s(t0 + (1 - t0) * i / (L - 1))`` with
    ``s(x) = x`` (``spacing="linear"``) or ``x**3`` (``"cubic"``; ``t0`` is then the pre-cubed
    value, as in the paper's code), so the last layer anneals over the whole run. Its learning
    rate is ``lr(t) * 0.5 * (1 + cos(pi * t / t_i))`` for progress t < t_i, times ``1 / t_i``
    with ``scale_lr`` so every layer gets a similar total update; once t >= t_i the layer is out
    of the backward pass from the next epoch on. ``lr(t)`` is the trainer's schedule: with a
    constant schedule this is the paper's method. The multiplier scales the layer's gradients,
    which for plain SGD equals scaling its learning rate; with momentum the buffer carries
    slightly older scales.

    >>> policy = FreezeOut(t0=0.8, spacing="cubic")
    """

    name = "freezeout"
    scales_learning_rates = True

    def __init__(self, t0: float = 0.8, spacing: str = "cubic", scale_lr: bool = True):
        if not 0.0 < t0 <= 1.0:
            raise ValueError(
                f"t0 is the fraction of training before layer 1 freezes, in (0, 1]; got {t0}."
            )
        if spacing not in ("linear", "cubic"):
            raise ValueError(f"spacing must be 'linear' or 'cubic', got {spacing!r}.")
        self.t0, self.spacing, self.scale_lr = t0, spacing, scale_lr

    def setup(self, plan) -> None:
        super().setup(plan)
        n = plan.num_layers
        x = self.t0 + (1.0 - self.t0) * np.arange(n) / max(n - 1, 1)
        self.freeze_times = x**3 if self.spacing == "cubic" else x
        self.freeze_times[-1] = 1.0

    def unit_scales(self, progress: float) -> np.ndarray:
        t = self.freeze_times
        cosine = np.where(
            progress < t, 0.5 * (1.0 + np.cos(math.pi * np.minimum(progress / t, 1.0))), 0.0
        )
        return (cosine / t if self.scale_lr else cosine).astype(np.float32)

    def frozen_prefix(self, epoch: int) -> int:
        progress = epoch / self.plan.epochs
        return int(np.sum(self.freeze_times[:-1] <= progress))

    def get_config(self) -> dict:
        return {"t0": self.t0, "spacing": self.spacing, "scale_lr": self.scale_lr}

    def summary(self) -> dict:
        return {**super().summary(), "freeze_times": self.freeze_times.tolist()}
