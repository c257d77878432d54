"""Prior calibration: raise target classes by one constant added to their logits.

The simple rival of the synaptic join (issue 25): multiplying a class's predicted probability by
``mu`` and renormalising is adding ``log(mu)`` to its logit, a bias shift of the model's last
Dense layer. Like :class:`~automl_kit.tweak.join.SynapticJoin` it is fitted on stored tables
(``C``, the logits, and the labels): ``mu`` is chosen on the validation tables as the one that
raises the targets most while overall accuracy stays within ``max_drop`` of the model's, and
:meth:`apply` returns a copy of the model with the shifted bias (a plain Keras model).

>>> import numpy as np
>>> from automl_kit.tweak.tables import SynapticTables
>>> C = np.array([[2.0, 2.0, 0.1, 0.2], [1.8, 1.5, 2.0, 1.0]])   # class 1 under-predicted
>>> tables = SynapticTables([np.zeros((1, 4))], C, [1, 0, 1, 0], [("h", 1)])
>>> PriorCalibration(targets=[1]).fit(tables).mu_
1.25
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from automl_kit.tweak.tables import SynapticTables

MU_CANDIDATES = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)


class PriorCalibration:
    """Add ``log(mu)`` to the logits of ``targets``; ``mu`` chosen on validation tables."""

    def __init__(
        self,
        targets: Sequence[int],
        *,
        mu_candidates: Sequence[float] = MU_CANDIDATES,
        max_drop: float = 0.0,
    ):
        self.targets = [int(t) for t in targets]
        if not self.targets or len(set(self.targets)) != len(self.targets):
            raise ValueError(f"targets {targets} must be a non-empty list of distinct classes.")
        mus = [float(m) for m in mu_candidates]
        if not mus or any(not math.isfinite(m) or m < 1 for m in mus):
            raise ValueError(
                f"mu_candidates {list(mu_candidates)} must be finite factors >= 1 (1: no change)."
            )
        if not (math.isfinite(max_drop) and 0 <= max_drop < 1):
            raise ValueError(f"max_drop is a fraction of accuracy in [0, 1), got {max_drop}.")
        self.mu_candidates, self.max_drop = sorted(set(mus)), float(max_drop)

    def get_config(self) -> dict:
        return {
            "targets": list(self.targets),
            "mu_candidates": list(self.mu_candidates),
            "max_drop": self.max_drop,
        }

    @classmethod
    def from_config(cls, config: dict) -> PriorCalibration:
        config = dict(config)
        if "tolerance" in config:  # the name before max_drop, in configs saved until 2026-12
            config["max_drop"] = config.pop("tolerance")
        return cls(**config)

    def shifted(self, C: np.ndarray, mu: float) -> np.ndarray:
        """``C`` (classes x samples) with ``log(mu)`` added to the target rows."""
        logits = np.asarray(C, dtype=np.float64).copy()
        logits[self.targets] += math.log(mu)
        return logits

    def fit(
        self, tables: SynapticTables, validation_data: SynapticTables | None = None
    ) -> PriorCalibration:
        """Choose ``mu`` on ``validation_data`` (default: ``tables``): of the candidates whose
        overall accuracy stays within ``max_drop`` of the model's, the one with the best target
        accuracy (the smallest such ``mu``); ``selection_`` holds every candidate's overall and
        target accuracy."""
        val = tables if validation_data is None else validation_data
        bad = [t for t in self.targets if not 0 <= t < val.n_classes]
        if bad:
            raise ValueError(
                f"targets {bad} out of range: the model has {val.n_classes} classes "
                f"(0..{val.n_classes - 1})."
            )
        base_overall, base_per_class = val.accuracy()
        self.base_validation_ = {
            "overall": base_overall,
            "target": float(np.nanmean(base_per_class[self.targets])),
        }
        self.selection_ = []
        for mu in self.mu_candidates:
            overall, per_class = val.accuracy(self.shifted(val.C, mu))
            target = float(np.nanmean(per_class[self.targets]))
            self.selection_.append({"mu": mu, "overall": overall, "target": target})
        ok = [g for g in self.selection_ if g["overall"] >= base_overall - self.max_drop - 1e-12]
        # candidates are in increasing mu: max() keeps the smallest of equal target accuracies
        self.mu_ = max(ok, key=lambda g: g["target"])["mu"] if ok else 1.0
        return self

    def _check_fitted(self) -> None:
        if getattr(self, "mu_", None) is None:
            raise ValueError("this PriorCalibration is not fitted yet; call fit(tables, ...).")

    def add_to_logits(self, tables: SynapticTables) -> np.ndarray:
        """The calibrated logits of ``tables`` (classes x samples)."""
        self._check_fitted()
        return self.shifted(tables.C, self.mu_)

    def apply(self, model):
        """A copy of ``model`` whose last Dense layer's bias is raised by ``log(mu)`` for the
        targets (the model is left as it was)."""
        import keras

        from automl_kit.utils.models import classification_head

        self._check_fitted()
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        head = classification_head(copy)
        if head.bias is None:
            raise ValueError(
                f"the last Dense layer '{head.name}' has no bias to shift; build it with "
                "use_bias=True, or use the synaptic join."
            )
        bias = keras.ops.convert_to_numpy(head.bias).copy()
        bias[self.targets] += math.log(self.mu_)
        head.bias.assign(bias)
        return copy

    def summary(self) -> dict:
        """JSON-able: the chosen ``mu`` and every candidate's validation accuracies."""
        self._check_fitted()
        return {
            "method": "prior_calibration",
            "config": self.get_config(),
            "mu": self.mu_,
            "base_validation": self.base_validation_,
            "validation_grid": self.selection_,
        }

    def save(self, run_dir) -> None:
        """``calibration.json`` (the summary) in ``run_dir``."""
        from automl_kit.utils import run_root, write_json

        write_json(run_root(run_dir) / "calibration.json", self.summary())
