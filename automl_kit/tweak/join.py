"""Synaptic join (Kim's thesis, Section 3.2.3): new synapses from active neurons to target logits.

For each target class the top-``n`` synapses by theta's ``count`` (ties by ``threshold``) are added,
each with weight ``threshold / n * scale``, from its hidden neuron to the target's pre-softmax logit.
``n`` and ``scale`` are chosen on a validation set by the thesis's rule: the ``n`` at which target
accuracy converges, then the largest ``scale`` that does not lower overall accuracy (within
``max_drop``). The choice costs only matrix additions on stored validation tables.

With several targets, one ``n`` and one ``scale`` serve them all, chosen on the mean of their
validation accuracies. Synapses with a non-finite or non-positive threshold are never chosen: an infinite threshold (a
neuron silent on every correctly classified off-target sample) gives no weight, and a non-positive
one would weaken the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from automl_kit.tweak.tables import SynapticTables
from automl_kit.tweak.thetas import ThetaResult, theta

__all__ = ["SynapticJoin", "rank_synapses"]

N_CANDIDATES = (1, 2, 5, 10, 20, 40, 80, 120)
SCALE_CANDIDATES = (1, 2, 5, 10, 20, 30, 40, 60, 80)


def rank_synapses(result: ThetaResult, t: int) -> np.ndarray:
    """Neuron indices for target column ``t``, best first: count descending, then threshold."""
    thr, cnt = result.thresholds[:, t], result.counts[:, t]
    ok = np.flatnonzero(np.isfinite(thr) & (thr > 0))
    order = np.lexsort((-thr[ok], -cnt[ok]))
    return ok[order]


def check_matching(tables: SynapticTables, other: SynapticTables, what: str) -> None:
    if other.layers != tables.layers or other.n_classes != tables.n_classes:
        raise ValueError(
            f"{what} tables hold layers {other.layers} and {other.n_classes} classes but the training "
            f"tables hold {tables.layers} and {tables.n_classes}; extract both with the same "
            "model and layers"
        )


class SynapticJoin:
    """Tweak target classes of a trained model by adding ``n`` synapses per target (Section 3.2.3).

    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((30, 200)).astype("float32"); y = rng.integers(0, 3, 200)
    >>> C = rng.normal(size=(3, 200)).astype("float32") + 2 * np.eye(3)[y].T
    >>> C[0] -= 0.8  # class 0 is weak
    >>> t = SynapticTables([V], C, y, [("h", 30)])
    >>> join = SynapticJoin(targets=[0], n_candidates=[1, 5], scale_candidates=[1, 2]).fit(t)
    >>> bool(t.accuracy(join.add_to_logits(t))[1][0] > t.accuracy()[1][0])
    True
    """

    def __init__(
        self,
        targets: Sequence[int],
        *,
        n_candidates: Sequence[int] = N_CANDIDATES,
        scale_candidates: Sequence[float] = SCALE_CANDIDATES,
        reference_scale: float | None = None,
        convergence: float = 0.005,
        max_drop: float = 0.0,
        eps1: float = 0.0,
        eps2: float = 1e-6,
        chunk_size: int = 4096,
        block_size: int = 512,
        backend: str = "numpy",
    ):
        self.targets = [int(t) for t in np.atleast_1d(targets)]
        self.n_candidates = sorted(int(n) for n in n_candidates)
        self.scale_candidates = sorted(float(s) for s in scale_candidates)
        self.reference_scale = None if reference_scale is None else float(reference_scale)
        self.convergence = float(convergence)
        self.max_drop = float(max_drop)
        self.eps1, self.eps2 = float(eps1), float(eps2)
        self.chunk_size, self.block_size = int(chunk_size), int(block_size)
        if backend not in ("numpy", "tensorflow"):
            raise ValueError(f"backend must be 'numpy' or 'tensorflow', got {backend!r}")
        self.backend = backend  # where theta runs: the same values either way
        if not self.targets or len(set(self.targets)) != len(self.targets):
            raise ValueError(
                f"targets {self.targets} must be a non-empty list of distinct class indices"
            )
        if not self.n_candidates or self.n_candidates[0] < 1:
            raise ValueError(f"n_candidates {self.n_candidates} must be positive integers")
        if not self.scale_candidates or not all(0 < s < math.inf for s in self.scale_candidates):
            raise ValueError(
                f"scale_candidates {self.scale_candidates} must be finite positive numbers "
                "(e.g. [5, 20, 40])"
            )
        if not (0 <= self.max_drop <= 1 and 0 <= self.convergence <= 1):
            raise ValueError(
                f"max_drop ({self.max_drop}) and convergence ({self.convergence}) are accuracy "
                "differences as fractions in [0, 1] (e.g. 0.002 for 0.2 points)"
            )

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {
            "targets": self.targets,
            "n_candidates": self.n_candidates,
            "scale_candidates": self.scale_candidates,
            "reference_scale": self.reference_scale,
            "convergence": self.convergence,
            "max_drop": self.max_drop,
            "eps1": self.eps1,
            "eps2": self.eps2,
            "chunk_size": self.chunk_size,
            "backend": self.backend,
            "block_size": self.block_size,
        }

    @classmethod
    def from_config(cls, config: dict) -> SynapticJoin:
        config = dict(config)
        if "tolerance" in config:  # the name before max_drop, in configs saved until 2026-12
            config["max_drop"] = config.pop("tolerance")
        return cls(**config)

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self, tables: SynapticTables, validation_data: SynapticTables | None = None
    ) -> SynapticJoin:
        """Run theta on the training ``tables`` and choose ``n``/``scale`` on ``validation_data``.

        ``validation_data``: tables of a held-out set from the same model and layers (never the
        test set); ``None`` chooses on the training tables, as the thesis's heuristic does.
        """
        bad = [t for t in self.targets if not 0 <= t < tables.n_classes]
        if bad:
            raise ValueError(
                f"targets {bad} out of range: the model has {tables.n_classes} classes "
                f"(0..{tables.n_classes - 1}); pass class indices in that range"
            )
        val = tables if validation_data is None else validation_data
        if not isinstance(val, SynapticTables):
            raise ValueError(
                "validation_data must be SynapticTables: extract_tables(model, x_val, y_val, ...)"
            )
        check_matching(tables, val, "validation")
        for what, t in (("training", tables), ("validation", val)):
            if not np.isfinite(t.C).all():
                raise ValueError(
                    f"the {what} tables hold NaN/inf logits: the model or its input is not "
                    "finite; check x for NaN/inf and rebuild them with extract_tables."
                )
        self.layers_ = list(tables.layers)
        self.n_classes_ = tables.n_classes
        self.theta_ = theta(
            tables.iter_chunks(),
            tables.C,
            tables.labels,
            tables.predicted,
            tables.max_values,
            targets=self.targets,
            eps1=self.eps1,
            eps2=self.eps2,
            chunk_size=self.chunk_size,
            block_size=self.block_size,
            neuron_absmax=tables.neuron_absmax,
            backend=self.backend,
        )
        n_max = self.n_candidates[-1]
        self.ranked_ = [rank_synapses(self.theta_, t)[:n_max] for t in range(len(self.targets))]
        if any(len(r) == 0 for r in self.ranked_):
            raise ValueError(
                "no usable synapse for some target (every threshold is infinite or <= 0): the "
                "model classifies its training data in a way theta cannot tweak; add layers=[...]"
            )
        rows = val.rows(np.concatenate(self.ranked_))
        cums, start = [], 0
        for t, ranked in enumerate(self.ranked_):
            block = rows[start : start + len(ranked)].astype(np.float64)
            start += len(ranked)
            cums.append(np.cumsum(self.theta_.thresholds[ranked, t][:, None] * block, axis=0))
        base_overall, base_per_class = val.accuracy()
        grid = []
        for n in self.n_candidates:
            for scale in self.scale_candidates:
                logits = val.C.astype(np.float64).copy()
                for t, j in enumerate(self.targets):
                    k = min(n, len(self.ranked_[t]))
                    logits[j] += scale * cums[t][k - 1] / n
                overall, per_class = val.accuracy(logits)
                grid.append(
                    {
                        "n": n,
                        "scale": scale,
                        "overall": overall,
                        "target": float(np.nanmean(per_class[self.targets])),
                    }
                )
        self.selection_ = grid
        self.base_validation_ = {
            "overall": base_overall,
            "target": float(np.nanmean(base_per_class[self.targets])),
        }
        ref = self.reference_scale or float(np.median(self.scale_candidates))
        at_ref = {
            g["n"]: g["target"]
            for g in grid
            if g["scale"] == min(self.scale_candidates, key=lambda s: abs(s - ref))
        }
        curve = [at_ref[n] for n in self.n_candidates]
        # n where target accuracy has converged: every larger n stays within `convergence` of it
        self.n_ = next(
            n
            for i, n in enumerate(self.n_candidates)
            if all(abs(c - curve[i]) <= self.convergence for c in curve[i:])
        )
        ok = [
            g["scale"]
            for g in grid
            if g["n"] == self.n_ and g["overall"] >= base_overall - self.max_drop - 1e-12
        ]
        # scale 0 (no synapses) when every candidate lowers overall accuracy: the join does no harm
        self.scale_ = max(ok) if ok else 0.0
        self._build_synapses()
        return self

    def _build_synapses(self) -> None:
        neurons, targets, weights = [], [], []
        for t, j in enumerate(self.targets):
            top = self.ranked_[t][: self.n_]
            neurons.extend(int(i) for i in top)
            targets.extend([j] * len(top))
            weights.extend(self.theta_.thresholds[top, t] / self.n_ * self.scale_)
        self.neurons_ = np.array(neurons, dtype=np.int64)
        self.synapse_targets_ = np.array(targets, dtype=np.int64)
        self.weights_ = np.array(weights, dtype=np.float64)

    def _check_fitted(self):
        if not hasattr(self, "weights_"):
            raise ValueError(
                "this SynapticJoin is not fitted yet; call fit(tables, validation_data=...)"
            )

    # -- using -------------------------------------------------------------------------------
    def add_to_logits(self, tables: SynapticTables) -> np.ndarray:
        """``C`` of ``tables`` plus the synapses (classes x samples): the tweaked model's logits."""
        self._check_fitted()
        if [tuple(x) for x in tables.layers] != [tuple(x) for x in self.layers_]:
            raise ValueError(
                f"tables hold layers {tables.layers}, the join was fitted on {self.layers_}"
            )
        logits = tables.C.astype(np.float64).copy()
        rows = tables.rows(self.neurons_)
        np.add.at(logits, self.synapse_targets_, self.weights_[:, None] * rows)
        return logits

    def summary(self) -> dict:
        """JSON-able: the choice of ``n``/``scale``, the validation grid and the synapses."""
        self._check_fitted()
        return {
            "method": "synaptic_join",
            "config": self.get_config(),
            "n": self.n_,
            "scale": self.scale_,
            "base_validation": self.base_validation_,
            "validation_grid": self.selection_,
            "synapses": [
                {"layer": a, "unit": b, "target": c, "weight": w}
                for a, b, c, w in self.synapse_table()
            ],
        }

    def save(self, run_dir) -> None:
        """``join.json`` (the summary) and ``theta_counts.npy``/``theta_thresholds.npy`` in ``run_dir``."""
        from automl_kit.utils import run_root, write_json

        root = run_root(run_dir)
        write_json(root / "join.json", self.summary())
        np.save(root / "theta_counts.npy", self.theta_.counts)
        np.save(root / "theta_thresholds.npy", self.theta_.thresholds)

    def synapse_table(self) -> list[tuple[str, int, int, float]]:
        """``(layer, flat unit, target class, weight)`` for each added synapse."""
        self._check_fitted()
        out = []
        for i, j, w in zip(self.neurons_, self.synapse_targets_, self.weights_):
            layer, unit = SynapticTables.neuron_of(self.layers_, int(i))
            out.append((layer, unit, int(j), float(w)))
        return out

    def apply(self, model, *, name: str = "synapses"):
        """A new Keras model: ``model`` (untouched, layers shared) plus the synapses in a removable
        :class:`~automl_kit.tweak.layers.SynapticHead` named ``name``."""
        from automl_kit.tweak.layers import attach

        self._check_fitted()
        SynapticTables.check_layers(model, self.layers_, self.n_classes_)
        layer_names = [n for n, _ in self.layers_]
        syn = []
        for layer, unit, target, _ in self.synapse_table():
            syn.append([layer_names.index(layer), unit, target])
        return attach(model, layer_names, syn, self.weights_, name=name)
