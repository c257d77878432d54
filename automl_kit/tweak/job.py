"""``tweak``: what ``automl-kit tweak`` does, in Python: a synaptic join fitted on a trained
model's tables, applied, and scored per class on the test set, with the run's files.

>>> from automl_kit.tweak import TweakResult, tweak
>>> result = tweak(model, ak.datasets.load("fashion_mnist"), targets=[6])   # doctest: +SKIP
>>> result.per_class_after[6] - result.per_class_before[6]                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from automl_kit.utils import RunDirectory, require_files, run_root

if TYPE_CHECKING:
    import keras


@dataclass
class TweakResult:
    """A finished ``tweak`` job: the kept method and the tweaked model (the base model is left as
    it was), its synapses and calibration factor, every method's validation point, and
    per-class test accuracy before and after. ``save(run_dir)`` writes
    ``tweaked.keras``, ``synapses.json``, ``theta_counts.npy``, ``per_class_accuracy.png``,
    ``count_distribution.png`` and ``results.json``; ``load(run_dir)`` reads them back."""

    model: keras.Model
    targets: list[int]
    n: int
    scale: float
    synapses: list[dict]
    per_class_before: list[float]
    per_class_after: list[float]
    test_accuracy_before: float
    test_accuracy_after: float
    validation_grid: list
    counts: np.ndarray
    dataset: dict | None = None
    model_path: str | None = None
    method: str = "join"  # the kept method (METHODS)
    mu: float = 1.0  # prior calibration's factor on the target probabilities (1: none)
    candidates: dict | None = None  # every method's validation point; which was kept and why

    def summary(self) -> dict:
        from automl_kit.tweak.plots import count_distribution

        return {
            "dataset": self.dataset,
            "model": self.model_path,
            "targets": list(self.targets),
            "method": self.method,
            "mu": self.mu,
            "candidates": self.candidates,
            "n": self.n,
            "scale": self.scale,
            "synapses": len(self.synapses),
            "test_accuracy_before": self.test_accuracy_before,
            "test_accuracy_after": self.test_accuracy_after,
            "per_class_before": self.per_class_before,
            "per_class_after": self.per_class_after,
            "validation_grid": self.validation_grid,
            "count_distribution": {str(k): v for k, v in count_distribution(self.counts).items()},
        }

    def save(self, run_dir: str | os.PathLike | RunDirectory) -> Path:
        from automl_kit.tweak.plots import plot_count_distribution, plot_per_class_accuracy
        from automl_kit.utils import write_json

        root = run_root(run_dir)
        self.model.save(root / "tweaked.keras")
        write_json(
            root / "synapses.json", {"n": self.n, "scale": self.scale, "synapses": self.synapses}
        )
        np.save(root / "theta_counts.npy", self.counts, allow_pickle=False)
        plot_per_class_accuracy(
            self.per_class_before,
            self.per_class_after,
            root / "per_class_accuracy.png",
            targets=self.targets,
        )
        plot_count_distribution(self.counts, root / "count_distribution.png")
        write_json(root / "results.json", self.summary())
        return root

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> TweakResult:
        import keras

        import automl_kit.tweak  # noqa: F401  (registers SynapticHead for load_model)

        root = require_files(
            run_dir,
            ("results.json", "synapses.json", "tweaked.keras", "theta_counts.npy"),
            what="finished tweak run",
            writers="`automl-kit tweak` or `TweakResult.save`",
        )
        summary = json.loads((root / "results.json").read_text(encoding="utf-8"))
        synapses = json.loads((root / "synapses.json").read_text(encoding="utf-8"))
        return cls(
            model=keras.models.load_model(root / "tweaked.keras"),
            targets=summary["targets"],
            n=synapses["n"],
            scale=synapses["scale"],
            synapses=synapses["synapses"],
            per_class_before=summary["per_class_before"],
            per_class_after=summary["per_class_after"],
            test_accuracy_before=summary["test_accuracy_before"],
            test_accuracy_after=summary["test_accuracy_after"],
            validation_grid=summary["validation_grid"],
            counts=np.load(root / "theta_counts.npy", allow_pickle=False),
            dataset=summary.get("dataset"),
            model_path=summary.get("model"),
            method=summary.get("method", "join"),  # runs saved before issue 25: the join only
            mu=summary.get("mu", 1.0),
            candidates=summary.get("candidates"),
        )


METHODS = ("auto", "calibration", "join", "calibrated_join")
_SIMPLEST_FIRST = ("calibration", "join", "calibrated_join")


def tweak(
    model: keras.Model,
    data,
    targets: Sequence[int],
    *,
    method: str = "auto",
    layers: Sequence[str] | None = None,
    n_candidates: Sequence[int] | None = None,
    scale_candidates: Sequence[float] | None = None,
    mu_candidates: Sequence[float] | None = None,
    max_drop: float = 0.002,
    batch_size: int = 256,
    run_dir: str | os.PathLike | RunDirectory | None = None,
    model_path: str | None = None,
) -> TweakResult:
    """Raise ``targets`` on ``model`` without retraining; score it per class on the test split.

    Three methods are fitted on ``model``'s tables of ``data``, each choosing its knobs on the
    validation split so that overall validation accuracy drops by at most ``max_drop`` (a
    fraction: 0.002 is 0.2 points): ``"calibration"`` (prior calibration, one bias shift of the
    target logits, :class:`~automl_kit.tweak.calibration.PriorCalibration`), ``"join"`` (the
    synaptic join, :class:`SynapticJoin`: ``n`` and ``scale``) and ``"calibrated_join"`` (the
    join fitted on the calibrated model). ``method="auto"`` keeps the one with the best target
    validation accuracy within ``max_drop`` (ties: the simplest, in that order); a method's
    name keeps that one. With ``run_dir`` the training tables are stored there (``tables/``,
    streamed from disk) and the result is saved there.
    """
    from automl_kit.tweak.calibration import MU_CANDIDATES, PriorCalibration
    from automl_kit.tweak.join import N_CANDIDATES, SCALE_CANDIDATES, SynapticJoin
    from automl_kit.tweak.tables import extract_tables

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
    options = {"layers": list(layers) if layers else None, "batch_size": batch_size}
    root = None if run_dir is None else run_root(run_dir)
    train = extract_tables(
        model,
        data.x_train,
        data.y_train,
        directory=None if root is None else root / "tables",
        overwrite=True,
        **options,
    )
    val = extract_tables(model, data.x_val, data.y_val, **options)
    test = extract_tables(model, data.x_test, data.y_test, **options)

    def new_join() -> SynapticJoin:
        return SynapticJoin(
            targets=list(targets),
            n_candidates=n_candidates or N_CANDIDATES,
            scale_candidates=scale_candidates or SCALE_CANDIDATES,
            max_drop=max_drop,
        )

    calibration = PriorCalibration(
        targets, mu_candidates=mu_candidates or MU_CANDIDATES, max_drop=max_drop
    ).fit(train, validation_data=val)
    calibrated_val = val.with_logits(calibration.add_to_logits(val))
    base_overall, base_per_class = val.accuracy()
    candidates: dict = {
        "model": {"overall": base_overall, "target": float(np.nanmean(base_per_class[targets]))}
    }
    fitted: dict = {"calibration": calibration}
    val_logits = {"calibration": calibration.add_to_logits(val)}
    for name, fit_on, val_on in (
        ("join", train, val),
        ("calibrated_join", train.with_logits(calibration.add_to_logits(train)), calibrated_val),
    ):
        try:
            fitted[name] = new_join().fit(fit_on, validation_data=val_on)
        except ValueError as exc:  # e.g. no usable synapse: the other methods still stand
            if method == name:
                raise
            candidates[name] = {"overall": None, "target": None, "not_fitted": str(exc)}
            continue
        val_logits[name] = fitted[name].add_to_logits(val_on)
    for name, logits in val_logits.items():
        overall, per_class = val.accuracy(logits)
        candidates[name] = {"overall": overall, "target": float(np.nanmean(per_class[targets]))}
        if name != "join":
            candidates[name]["mu"] = calibration.mu_
        if name != "calibration":
            candidates[name].update(n=fitted[name].n_, scale=fitted[name].scale_)
    if method == "auto":
        within = [
            m
            for m in _SIMPLEST_FIRST
            if m in val_logits and candidates[m]["overall"] >= base_overall - max_drop - 1e-12
        ]
        kept = max(within, key=lambda m: candidates[m]["target"]) if within else "calibration"
    else:
        kept = method
    candidates["kept"] = kept
    candidates["rule"] = (
        f"{'best validation target accuracy within' if method == 'auto' else 'asked for; max_drop'}"
        f" {100 * max_drop:.2f} points of overall validation accuracy"
    )
    fitted_join = fitted.get(kept) if kept != "calibration" else None
    tweaked = model if kept == "join" else calibration.apply(model)
    if fitted_join is not None:
        tweaked = fitted_join.apply(tweaked)
    before_all, before = test.accuracy()
    right = tweaked.predict(data.x_test, batch_size=batch_size, verbose=0).argmax(1) == test.labels
    after = [
        float(right[test.labels == k].mean()) if (test.labels == k).any() else float("nan")
        for k in range(test.n_classes)
    ]
    # the theta counts and grid of the join kept, else of whichever join was fitted
    shown = fitted_join or fitted.get("join") or fitted.get("calibrated_join")
    result = TweakResult(
        model=tweaked,
        targets=list(targets),
        n=shown.n_ if fitted_join is not None else 0,
        scale=shown.scale_ if fitted_join is not None else 0.0,
        synapses=[]
        if fitted_join is None
        else [
            {"layer": a, "unit": b, "target": c, "weight": w}
            for a, b, c, w in fitted_join.synapse_table()
        ],
        per_class_before=[float(v) for v in before],
        per_class_after=after,
        test_accuracy_before=float(before_all),
        test_accuracy_after=float(right.mean()),
        validation_grid=[] if shown is None else shown.selection_,
        counts=np.zeros((0, len(targets))) if shown is None else np.asarray(shown.theta_.counts),
        dataset=data.summary(),
        model_path=model_path,
        method=kept,
        mu=calibration.mu_ if kept != "join" else 1.0,
        candidates=candidates,
    )
    if run_dir is not None:
        result.save(run_dir)
    return result
