"""Error decomposition and verdict (seed 002, "bias and variance" and its Models A-D table).

avoidable bias = training error - human-level error; bias = training error - Bayes error;
variance = dev error - training error; with a train-dev set (training distribution, not
trained on) the dev gap splits into variance = train-dev - training and data mismatch =
dev - train-dev; overfitting to dev = test - dev. "We should not try to decrease variance if
the avoidable bias is still high": the verdict's focus follows that order.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl_kit.diagnose._advice import Recommendation, recommendations

# One percentage point: the deck's Models A-D call 2.8-4.3 points "high" and 0.1-0.8 "low".
DEFAULT_TOLERANCE = 0.01
# Where the human-level (or Bayes) error itself is worth attacking (cleaning data, features):
# the deck gives no number; we take 5%, just above its medical example's typical doctor (4%).
DEFAULT_HIGH_HUMAN_ERROR = 0.05


@dataclass
class Diagnosis:
    """Where a model stands: errors, their decomposition, a verdict and ranked advice.

    ``summary()`` gives it as JSON-able values; ``save(run_dir)`` writes ``diagnosis.json``
    and a self-contained ``report.html`` (plots embedded) there; ``load(run_dir)`` reads it.
    """

    errors: dict[str, float | None]
    components: dict[str, float | None]
    high: dict[str, bool]
    verdict: str
    focus: list[str]
    recommendations: list[Recommendation]
    tolerance: float = DEFAULT_TOLERANCE
    notes: list[str] = field(default_factory=list)
    reports: dict[str, Any] = field(default_factory=dict)  # split -> ClassReport
    dataset: dict | None = None
    model: dict | None = None
    error_analysis: dict[str, Any] = field(default_factory=dict)  # filled by diagnose()

    def summary(self) -> dict:
        return {
            "verdict": self.verdict,
            "focus": list(self.focus),
            "errors": dict(self.errors),
            "components": dict(self.components),
            "high": dict(self.high),
            "tolerance": self.tolerance,
            "notes": list(self.notes),
            "recommendations": [r.to_dict() for r in self.recommendations],
            "per_class": {split: r.summary() for split, r in self.reports.items()},
            "dataset": self.dataset,
            "model": self.model,
        }

    def save(self, run_dir: str | os.PathLike) -> Path:
        """``diagnosis.json`` and ``report.html`` (plus the plots' PNGs) into ``run_dir``."""
        from automl_kit.diagnose._report import write_report
        from automl_kit.utils.rundir import RunDirectory

        run = run_dir if isinstance(run_dir, RunDirectory) else RunDirectory(run_dir)
        run.root.mkdir(parents=True, exist_ok=True)
        run.write_json("diagnosis.json", self.summary())
        write_report(self, run.root)
        return run.root

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> Diagnosis:
        """The diagnosis :meth:`save` wrote (``diagnosis.json``); the error analysis (examples)
        is not part of it."""
        import json

        from automl_kit.utils import require_files
        from automl_kit.utils.metrics import ClassReport

        root = require_files(
            run_dir,
            ("diagnosis.json",),
            what="diagnosis",
            writers="`automl-kit diagnose` or `Diagnosis.save`",
        )
        saved = json.loads((root / "diagnosis.json").read_text(encoding="utf-8"))
        return cls(
            errors=saved["errors"],
            components=saved["components"],
            high=saved["high"],
            verdict=saved["verdict"],
            focus=saved["focus"],
            recommendations=[Recommendation(**r) for r in saved["recommendations"]],
            tolerance=saved["tolerance"],
            notes=saved["notes"],
            reports={k: ClassReport.from_summary(v) for k, v in saved["per_class"].items()},
            dataset=saved["dataset"],
            model=saved["model"],
        )

    def __repr__(self) -> str:
        return f"Diagnosis({self.verdict!r})"


def _check_error(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.") from None
    if not math.isfinite(value) or not 0 <= value <= 1:
        hint = f" (write {value / 100:g} for {value:g}%)" if 1 < value <= 100 else ""
        raise ValueError(f"{name} must be an error rate in [0, 1], got {value!r}{hint}.")
    return value


def decompose_errors(
    training_error: float,
    dev_error: float,
    *,
    human_level_error: float | None = None,
    bayes_error: float | None = None,
    train_dev_error: float | None = None,
    test_error: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    high_human_error: float = DEFAULT_HIGH_HUMAN_ERROR,
    dataset: str = "NAME",
    kind: str = "image",
) -> Diagnosis:
    """Decompose precomputed error rates (fractions) into bias, variance, mismatch; advise.

    A component above ``tolerance`` counts as high. Without ``human_level_error`` the Bayes
    error stands in for it, and without either the avoidable bias is the whole training error
    (human-level 0 assumed, said in ``notes``). ``dataset``/``kind`` fill the commands of the
    advice (``kind="tabular"`` points at ``automl-kit evolve --space dense``).

    >>> d = decompose_errors(0.035, 0.078, human_level_error=0.007, bayes_error=0.005)  # Model A
    >>> round(d.components["avoidable_bias"], 4), round(d.components["variance"], 4)
    (0.028, 0.043)
    >>> d.verdict
    'high bias and high variance: first focus on bias'
    """
    training = _check_error("training_error", training_error)
    dev = _check_error("dev_error", dev_error)
    human = _check_error("human_level_error", human_level_error)
    bayes = _check_error("bayes_error", bayes_error)
    train_dev = _check_error("train_dev_error", train_dev_error)
    test = _check_error("test_error", test_error)
    if training is None or dev is None:
        raise ValueError("training_error and dev_error are required (fractions in [0, 1]).")
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1), e.g. 0.01 (one point), got {tolerance}.")
    if human is not None and bayes is not None and bayes > human:
        raise ValueError(
            f"bayes_error ({bayes}) above human_level_error ({human}): the Bayes error is the "
            "lowest reachable error, so it cannot exceed the human-level error; check the two."
        )
    notes: list[str] = []
    reference = human if human is not None else bayes
    if reference is None:
        reference = 0.0
        notes.append(
            "no human-level or Bayes error given: avoidable bias taken as the whole training "
            "error; pass human_level_error (e.g. 0.01) for a fairer split."
        )
    elif human is None:
        notes.append("no human-level error given: the Bayes error stands in for it.")
    components: dict[str, float | None] = {
        "bias": None if bayes is None else training - bayes,
        "avoidable_bias": training - reference,
        "variance": (dev if train_dev is None else train_dev) - training,
        "data_mismatch": None if train_dev is None else dev - train_dev,
        "dev_overfitting": None if test is None else test - dev,
    }
    if components["avoidable_bias"] < 0:
        notes.append(
            "training error below the human-level error: the model surpasses human-level "
            "performance, so the avoidable bias is hard to know."
        )
    high = {
        # 1e-9: 0.26 - 0.25 is 0.010000000000000009 in floating point, not above 1 point
        name: value is not None and value - tolerance > 1e-9
        for name, value in components.items()
        if name != "bias"
    }
    high["human_level"] = max(human or 0.0, bayes or 0.0) >= high_human_error
    focus = [
        p for p in ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting") if high[p]
    ]
    if high["human_level"]:
        focus.append("human_level")
    return Diagnosis(
        errors={
            "training": training,
            "train_dev": train_dev,
            "dev": dev,
            "test": test,
            "human_level": human,
            "bayes": bayes,
        },
        components=components,
        high=high,
        verdict=verdict(high),
        focus=focus,
        recommendations=recommendations(focus, dataset, kind),
        tolerance=float(tolerance),
        notes=notes,
    )


def verdict(high: dict[str, bool]) -> str:
    """The deck's conclusion row (Models A-D), extended by data mismatch and dev overfitting.

    >>> verdict({"avoidable_bias": False, "variance": True})
    'low bias, high variance: focus on variance'
    """
    bias, variance = high.get("avoidable_bias", False), high.get("variance", False)
    if bias and variance:
        text = "high bias and high variance: first focus on bias"
    elif bias:
        text = "high bias, low variance: focus on bias"
    elif variance:
        text = "low bias, high variance: focus on variance"
    else:
        text = "low bias and variance: quite well-trained model"
    extra = []
    if high.get("data_mismatch"):
        extra.append("data mismatch between training and dev distributions")
    if high.get("dev_overfitting"):
        extra.append("overfitting to the dev set (test error well above dev error)")
    if high.get("human_level"):
        extra.append("high human-level error: clean the data")
    return text + "".join(f"; {e}" for e in extra)
