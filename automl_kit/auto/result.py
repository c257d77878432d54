"""What ``auto`` returns: the leaderboard, each step's record, the final model and ``predict``."""

from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from automl_kit.utils import RunDirectory, require_files, run_root, write_json

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"


@dataclass
class AutoResult:
    """A finished :func:`~automl_kit.auto.auto` run.

    ``leaderboard``: every model trained, best validation accuracy first (test accuracy,
    seconds, size, spec, file); ``records``: what each step did or why it was skipped, and
    each action's measured effect; ``final``: the model kept (``final_model.keras``, or
    ``final_model.json`` when a tree or an ensemble won: XGBoost's JSON, or the ensemble's
    members and weights), which :meth:`predict` uses.
    """

    leaderboard: list[dict]
    records: dict
    final: dict
    plan: dict
    spent_seconds: float
    dataset: dict | None = None
    run_dir: str | None = None
    _model: object = field(default=None, repr=False, compare=False)

    def summary(self) -> dict:
        return {
            "dataset": self.dataset,
            "final": self.final,
            "leaderboard": self.leaderboard,
            "steps": self.records,
            "plan": self.plan,
            "spent_seconds": round(self.spent_seconds, 1),
        }

    def save(self, run_dir: str | os.PathLike | RunDirectory) -> Path:
        """``results.json`` and ``report.html`` in ``run_dir`` (the final model too, when it is
        another folder than the run's); returns the folder."""
        root = run_root(run_dir)
        root.mkdir(parents=True, exist_ok=True)
        if self.run_dir is not None and Path(self.run_dir).resolve() != root.resolve():
            files = [self.final["path"]]
            if self.final.get("kind") == "ensemble":  # and the files of its members
                from automl_kit.auto._models import Ensemble

                files += Ensemble.read(Path(self.run_dir) / files[0])[0]
            for name in files:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(self.run_dir) / name, root / name)
        (root / REPORT_FILE).write_text(render_report(self.summary()), encoding="utf-8")
        write_json(root / RESULTS_FILE, self.summary())
        return root

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> AutoResult:
        root = require_files(
            run_dir,
            (RESULTS_FILE,),
            what="finished auto run",
            writers="`automl-kit auto` or `automl_kit.auto.auto`",
        )
        saved = json.loads((root / RESULTS_FILE).read_text(encoding="utf-8"))
        return cls(
            leaderboard=saved["leaderboard"],
            records=saved["steps"],
            final=saved["final"],
            plan=saved["plan"],
            spent_seconds=saved["spent_seconds"],
            dataset=saved["dataset"],
            run_dir=str(root),
        )

    @property
    def model(self):
        """The final model (Keras, an ``XGBClassifier`` when a tree won, an ``Ensemble`` with
        ``predict_proba`` when an average of models won), loaded once."""
        if self._model is None:
            from automl_kit.auto._models import load_trained_model

            if self.run_dir is None:
                raise ValueError("this result has no run directory to load its model from.")
            self._model = load_trained_model(Path(self.run_dir) / self.final["path"])
        return self._model

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities of the final model for samples shaped like the training data."""
        from automl_kit.auto._models import probabilities

        x = np.asarray(x, np.float32)
        shape = tuple((self.dataset or {}).get("input_shape") or x.shape[1:])
        if tuple(x.shape[1:]) != shape:
            raise ValueError(
                f"samples of shape {tuple(x.shape[1:])}, but the model was trained on {shape}; "
                "prepare new data as the training data was (same columns, image size)."
            )
        return probabilities(self.model, x)

    def predict(self, x) -> np.ndarray:
        """Predicted class indices of the final model."""
        return self.predict_proba(x).argmax(axis=1)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape("" if value is None else str(value))


def _auroc(final: dict) -> str:
    if final.get("val_auroc") is None or final.get("test_auroc") is None:
        return ""
    return f", validation AUROC {final['val_auroc']:.4f}, test AUROC {final['test_auroc']:.4f}"


def render_report(summary: dict) -> str:
    """One HTML page: the final model, the leaderboard, each step and its effect, the diagnosis."""
    final, board, steps = summary["final"], summary["leaderboard"], summary["steps"]
    columns = (
        "name",
        "step",
        "kind",
        "val_accuracy",
        "test_accuracy",
        "val_auroc",
        "test_auroc",
        "seconds",
        "epochs",
        "parameters",
    )
    shown = [c for c in columns if any(c in e for e in board)]
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(e.get(c))}</td>" for c in shown) + "</tr>" for e in board
    )
    step_rows = []
    for name, record in steps.items():
        if not record.get("ran", True):
            what = f"skipped: {record.get('reason', '')}"
        elif "kept" in record:
            what = (
                f"{'kept' if record['kept'] else 'not kept'} ({record['why']}); validation "
                f"{record.get('metric', 'accuracy')} {record['val_before']:.4f} &rarr; "
                f"{record['val_after']:.4f}, test {record['test_before']:.4f} &rarr; "
                f"{record['test_after']:.4f}"
            )
        elif name == "diagnose":
            what = f"{html.escape(record['verdict'])} (model {html.escape(record['model'])})"
        else:
            what = html.escape(", ".join(record.get("models", [])) or "done")
        step_rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{what}</td><td>{record['seconds']:.0f}</td>"
            f"<td>{record['budget_seconds']:.0f}</td></tr>"
        )
    diagnosis = steps.get("diagnose") or {}
    advice = "".join(
        f"<li>{html.escape(r.get('action', ''))}: {html.escape(r.get('note', '') or '')}</li>"
        for r in diagnosis.get("recommendations", [])
    )
    dataset = summary.get("dataset") or {}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>automl_kit auto: {html.escape(str(dataset.get("name", "")))}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left}}</style></head><body>
<h1>automl_kit auto</h1>
<p id="final">Final model: <b>{html.escape(final["name"])}</b>, validation accuracy
{final["val_accuracy"]:.4f}, test accuracy {final["test_accuracy"]:.4f}{_auroc(final)}
(<code>{html.escape(final["path"])}</code>); {summary["spent_seconds"]:.0f} s of
{summary["plan"]["time_budget"]:.0f} s.</p>
<h2>Leaderboard</h2>
<table id="leaderboard"><tr>{"".join(f"<th>{c}</th>" for c in shown)}</tr>{rows}</table>
<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>what happened</th><th>seconds</th><th>budget, s</th></tr>{"".join(step_rows)}</table>
<h2>Diagnosis</h2>
<p id="verdict">{html.escape(diagnosis.get("verdict", "not run"))}</p><ul>{advice}</ul>
{'<p><a href="diagnosis/report.html">the full diagnosis report</a></p>' if diagnosis.get("ran", False) else ""}
<h2>Rules</h2><ul>{"".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in summary["plan"].items())}</ul>
</body></html>
"""
