"""``boost``: what ``automl-kit ehr`` does, in Python: a patient split, an image layout fitted
on the training patients, a tree model boosted by a CNN on the images, and test scores.

>>> from automl_kit.datasets import ehr_cohort
>>> from automl_kit.ehr import BoostResult, boost
>>> result = boost(ehr_cohort(2000, seed=0), base="xgb", run_dir="runs/ehr")  # doctest: +SKIP
>>> BoostResult.load("runs/ehr").rows[-1]["auprc"]                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl_kit.utils import Comparison, RunDirectory, require_files, run_root

K_VALUES = (100, 300, 500, 1000, 2000, 3000)  # precision@K of the results table (Table 5.1)
BASES = ("xgb", "cat", "rf")


@dataclass
class BoostResult:
    """A finished ``boost`` job. ``rows`` hold AUROC, AUPRC and precision@K on the test
    patients for the base tree, the CNN and the boosted model; ``save(run_dir)`` writes the
    mapper (``layout.json``, ...), ``model/`` (:meth:`CNNBoostedClassifier.save`),
    ``results.csv`` and ``results.json``; ``load(run_dir)`` reads them back."""

    mapper: Any
    booster: Any
    rows: list[dict]
    details: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {**self.details, "results": self.rows}

    def save(self, run_dir: str | os.PathLike | RunDirectory) -> Path:
        from automl_kit.utils import write_csv, write_json

        root = run_root(run_dir)
        self.mapper.save(root)
        self.booster.save(root / "model")
        write_csv(root / "results.csv", self.rows)
        write_json(root / "results.json", self.summary())
        return root

    @classmethod
    def load(cls, run_dir: str | os.PathLike, base_estimator=None) -> BoostResult:
        """``base_estimator``: the fitted base model where it was not saved (``rf``)."""
        from automl_kit.ehr.booster import CNNBoostedClassifier
        from automl_kit.ehr.mapper import EHRImageMapper

        root = require_files(
            run_dir,
            ("results.json", "model"),
            what="finished ehr run",
            writers="`automl-kit ehr` or `BoostResult.save`",
        )
        summary = json.loads((root / "results.json").read_text(encoding="utf-8"))
        rows = summary.pop("results")
        return cls(
            mapper=EHRImageMapper.load(root),
            booster=CNNBoostedClassifier.load(root / "model", base_estimator=base_estimator),
            rows=rows,
            details=summary,
        )


def base_model(name: str, seed: int = 0):
    """The command's base trees: ``xgb`` (XGBoost), ``cat`` (CatBoost) or ``rf`` (a scikit-learn
    random forest), 300 trees each, one thread."""
    if name not in BASES:
        raise ValueError(f"unknown base model '{name}'; choose one of: {', '.join(BASES)}.")
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(300, min_samples_leaf=3, random_state=seed, n_jobs=1)
    if name == "xgb":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=300, learning_rate=0.05, random_state=seed, n_jobs=1)
    from catboost import CatBoostClassifier

    return CatBoostClassifier(
        iterations=300, random_seed=seed, verbose=0, thread_count=1, allow_writing_files=False
    )


def scores_row(model: str, y, scores) -> dict:
    """AUROC, AUPRC and precision@K (K up to half the patients) of ``scores`` against ``y``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from automl_kit.utils.metrics import precision_at_k

    row = {
        "model": model,
        "auroc": float(roc_auc_score(y, scores)),
        "auprc": float(average_precision_score(y, scores)),
    }
    ks = [k for k in K_VALUES if k <= len(y) // 2] or [max(1, len(y) // 10)]
    row.update({f"precision@{k}": precision_at_k(y, scores, k) for k in ks})
    return row


def boost(
    tables,
    *,
    base: str = "xgb",
    layout: str = "ga",
    layout_options: dict | None = None,
    width: int | None = None,
    height: int | None = None,
    scope: str = "window",
    combine: str = "rank_average",
    weight: float | str = "auto",
    cnn_epochs: int = 10,
    balance: float = 0.5,
    n_confusing: int = 0,
    test_size: float = 0.3,
    seed: int = 0,
    run_dir: str | os.PathLike | RunDirectory | None = None,
    resume: bool = False,
    verbose: int = 1,
) -> BoostResult:
    """Split ``tables`` (:class:`~automl_kit.datasets.EHRTables`) by patient, fit an
    :class:`EHRImageMapper` with ``layout`` on the training patients, fit a
    :class:`CNNBoostedClassifier` on ``base`` (see :func:`base_model`), and score base, CNN and
    boosted model on the test patients. ``weight="auto"`` (the default) chooses the base
    model's share on a held-out validation split, and ``details["rival"]`` compares the best
    share below 1 (the CNN's images count; with ``combine="cnn_feature"`` the stacked trees)
    with the base model alone there: the combination wins only by more than one standard error. With ``run_dir``
    (an open ``RunDirectory``) the layout GA checkpoints there (``resume=True`` continues
    it), and the result and plots are saved there.
    """
    from automl_kit.ehr.booster import CNNBoostedClassifier
    from automl_kit.ehr.mapper import EHRImageMapper

    say = (lambda *a: print(*a, flush=True)) if verbose else (lambda *a: None)
    base_estimator = base_model(base, seed)
    train, test = tables.split(test_size=test_size, seed=seed)
    if train.labels.min() == train.labels.max() or test.labels.min() == test.labels.max():
        raise ValueError(
            "the train or test split holds one class only; use more patients or a larger "
            "test_size (--test-size)."
        )
    say(
        f"ehr: {len(train)} training, {len(test)} test patients "
        f"({tables.labels.mean():.1%} positive); {tables.description}"
    )
    for reason, count in tables.exclusions.items():
        say(f"  excluded/noted: {count} {reason} (results.json data.exclusions)")
    mapper = EHRImageMapper(
        width,
        height,
        layout,
        layout_options=layout_options or {},
        scope=scope,
        seed=seed,
        verbose=verbose,
    )
    say(f"ehr: relations P(treatment | diagnosis) and the {layout} layout ...")
    mapper.fit(train, run_dir=run_dir, resume=resume)
    layout_summary = mapper.summary()
    say(
        f"layout {layout}: {len(mapper.features_)} codes on {mapper.shape_[0]} x "
        f"{mapper.shape_[1]}, fitness {mapper.fitness_:.0f} (lower bound "
        f"{layout_summary['lower_bound']:.0f})"
        + (
            f"; stopped: {layout_summary['stop_reason']}"
            if layout_summary.get("stop_reason")
            else ""
        )
    )
    x_train, names = mapper.to_X(train)
    x_test, _ = mapper.to_X(test)
    say(
        f"ehr: training the {base} base model and the CNN ({cnn_epochs} epochs at most, early "
        "stopping on a validation split) ..."
    )
    booster = CNNBoostedClassifier(
        base_estimator,
        mapper=mapper,
        combine=combine,
        weight=weight,
        cnn_epochs=cnn_epochs,
        balance=balance,
        n_confusing=n_confusing,
        seed=seed,
        verbose=verbose,
    ).fit(x_train, train.labels)
    scores = booster.scores(x_test)
    rows = [
        scores_row(base, test.labels, scores["base"]),
        scores_row("cnn", test.labels, scores["cnn"]),
        scores_row(f"cnn-boosted-{base}", test.labels, scores["combined"]),
    ]
    for row in rows:
        row["combine"] = combine if row["model"].startswith("cnn-boosted") else ""
    n_counts = len(mapper.features_) * mapper.n_windows_
    result = BoostResult(
        mapper=mapper,
        booster=booster,
        rows=rows,
        details={
            "data": tables.summary(),
            "train_patients": len(train),
            "test_patients": len(test),
            "layout": layout_summary,
            "model_columns": {
                "counts": n_counts,
                "codes": len(mapper.features_),
                "windows": mapper.n_windows_,
                "demographics": len(names) - n_counts,
                "total": len(names),
            },
            "combine": combine,
            "weight": booster.weight_,
            "cnn_epochs_kept": booster.cnn_epochs_,
        },
    )
    if weight == "auto" and combine != "stacker":  # against the base model on validation
        by_model = booster.validation_auprc_by_model_
        boosted = (
            f"the CNN-boosted {base} (best base share below 1)"
            if combine == "rank_average"
            else f"{base} with the CNN's logit as a feature"
        )
        comparison = Comparison(
            boosted,
            by_model["combined"],
            f"the {base} base model alone",
            by_model["base"],
            metric="validation AUPRC",
            hint="the booster returns it (weight 1.0)",
            margin=booster.validation_margin_,  # one standard error: the base is the default
        )
        result.details["rival"] = comparison.summary()
        say(f"ehr: {comparison.verdict()}")
    if run_dir is not None:
        result.save(run_dir)
        _plot(result, train, test, run_root(run_dir), seed)
    return result


def _plot(result: BoostResult, train, test, root: Path, seed: int) -> None:
    """``fitness.png`` (GA), ``layout.png`` and ``patients.png`` (test patients as images)."""
    from automl_kit.ehr.plots import plot_fitness, plot_layout, plot_patients

    mapper = result.mapper
    if mapper.layout_result_.history:
        plot_fitness(
            mapper.layout_result_.history,
            root / "fitness.png",
            lower_bound=result.details["layout"]["lower_bound"],
        )
    plot_layout(mapper.layout_result_.grid(), train.code_types, path=root / "layout.png")
    plot_patients(
        mapper.transform(test),
        test.labels,
        root / "patients.png",
        seed=seed,
        ids=test.patients["patient_id"].to_numpy(),
    )
