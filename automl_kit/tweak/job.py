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
    """A finished ``tweak`` job: the tweaked model (the base model is left as it was), the
    synapses, and per-class test accuracy before and after. ``save(run_dir)`` writes
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

    def summary(self) -> dict:
        from automl_kit.tweak.plots import count_distribution

        return {
            "dataset": self.dataset,
            "model": self.model_path,
            "targets": list(self.targets),
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
        )


def tweak(
    model: keras.Model,
    data,
    targets: Sequence[int],
    *,
    layers: Sequence[str] | None = None,
    n_candidates: Sequence[int] | None = None,
    scale_candidates: Sequence[float] | None = None,
    tolerance: float = 0.0,
    batch_size: int = 256,
    run_dir: str | os.PathLike | RunDirectory | None = None,
    model_path: str | None = None,
) -> TweakResult:
    """Fit a :class:`SynapticJoin` for ``targets`` on ``model``'s tables of ``data``'s training
    split (``n`` and ``scale`` chosen on its validation split), apply it, and score both models
    per class on the test split. With ``run_dir`` the training tables are stored there
    (``tables/``, streamed from disk) and the result is saved there.
    """
    from automl_kit.tweak.join import N_CANDIDATES, SCALE_CANDIDATES, SynapticJoin
    from automl_kit.tweak.tables import extract_tables

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
    join = SynapticJoin(
        targets=list(targets),
        n_candidates=n_candidates or N_CANDIDATES,
        scale_candidates=scale_candidates or SCALE_CANDIDATES,
        tolerance=tolerance,
    ).fit(train, validation_data=val)
    tweaked = join.apply(model)
    before_all, before = test.accuracy()
    right = tweaked.predict(data.x_test, batch_size=batch_size, verbose=0).argmax(1) == test.labels
    after = [
        float(right[test.labels == k].mean()) if (test.labels == k).any() else float("nan")
        for k in range(test.n_classes)
    ]
    result = TweakResult(
        model=tweaked,
        targets=list(targets),
        n=join.n_,
        scale=join.scale_,
        synapses=[
            {"layer": a, "unit": b, "target": c, "weight": w} for a, b, c, w in join.synapse_table()
        ],
        per_class_before=[float(v) for v in before],
        per_class_after=after,
        test_accuracy_before=float(before_all),
        test_accuracy_after=float(right.mean()),
        validation_grid=join.selection_,
        counts=np.asarray(join.theta_.counts),
        dataset=data.summary(),
        model_path=model_path,
    )
    if run_dir is not None:
        result.save(run_dir)
    return result
