"""``auto``: from data to a better, diagnosed model in one call (``automl-kit auto``).

The run is a fixed sequence of steps (:data:`STEPS`); each step's record and models are saved
when it ends (``steps.json``, ``models/``), and every Keras fit is checkpointed each epoch
(``fits/``), so a resumed run skips finished steps, the search continues from its last
evaluation, and a fit that was cut off continues from its last epoch. The rules that
decide what runs and what is kept are constants of this module, written in ``docs/auto.md``
and recorded in ``results.json`` (``plan``).

>>> from automl_kit.auto import auto
>>> result = auto(ak.datasets.load("digits"), time_budget="5m", run_dir="runs/a")  # doctest: +SKIP
>>> result.leaderboard[0]["name"], result.predict(x_new)                           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import numpy as np

from automl_kit.auto._models import (
    Ensemble,
    Trained,
    dense_default_spec,
    fit_keras,
    fit_tree,
    load_trained_model,
    probabilities,
)
from automl_kit.auto.result import AutoResult
from automl_kit.utils import RunDirectory, parse_duration, read_json
from automl_kit.utils.interrupt import Interrupted, raise_if_stop_requested

STEPS = (
    "floor",
    "search",
    "final_fit",
    "diagnose",
    "label_issues",
    "label_smoothing",
    "tweak",
    "ensemble",
)
# The floor comes first and may take most of the budget, so that the user gets at least a
# well-trained floor; every later model costs about what the floor cost, and a step runs only
# when the time left covers it.
FLOOR_SHARE = 0.9  # of the budget the floor may take
PLATEAU_EPOCHS = 30  # the schedule of every fit when it fits in time: near the recipe's plateau
RETRAININGS = 2  # kept for after the search: two retrainings of the best model, and its final fit
MIN_SEARCH_SECONDS = 30.0  # a shorter search is skipped (a few candidates at most)
OOF_FOLDS = 3  # folds of the out-of-fold probabilities behind the label-issue search
OOF_FEWEST_EPOCHS = 2  # a CNN per fold needs at least this to say anything about its labels
CONFUSABLE_SHARE = 0.25  # a class pair with this share of the dev errors (and >= 5) is confusable
LABEL_SMOOTHING = 0.1
WEAK_CLASS_GAP = 0.05  # a class whose dev recall trails the mean recall by more is weak
TWEAK_COST = 3  # a tweak takes about this many times the diagnosis (forward passes, then fits)
ENSEMBLE_ROUNDS = 20  # greedy selection rounds (with replacement): weights in twentieths
#: What ``metric`` may name, and the leaderboard column each one reads on validation.
METRICS = {"accuracy": "val_accuracy", "roc_auc": "val_auroc"}


def plan() -> dict:
    """The budget split and every decision rule, as recorded with each run."""
    return {
        "steps": list(STEPS),
        "floor": f"a full schedule of up to {PLATEAU_EPOCHS} epochs within {FLOOR_SHARE:.0%} of "
        "the budget; for tables a tuned XGBoost first",
        "search": "gets the time left after reserving its final fit (what the floor's network "
        f"cost) and {RETRAININGS} retrainings of the best model so far (its own cost: seconds "
        f"for a tree); skipped under {MIN_SEARCH_SECONDS:.0f} s or one network's cost",
        "later_steps": "the final fit trains the searched net with the floor's epochs; each "
        "later step runs only if the time left covers its estimated cost, and may use all of it",
        "selection": "the leaderboard entry with the highest validation score in `metric` "
        "(accuracy, or AUROC for two classes; ties: the earlier, simpler one) is the final "
        "model; the search's fitness and each Keras fit's kept epoch stay on accuracy",
        "freezing": "off: on the recipe benchmarks (issue 25) no freezing policy saved time "
        "without losing accuracy",
        "label_issues": f"cleanlab on {OOF_FOLDS}-fold out-of-fold probabilities (the textbook "
        "CNN for images, the tuned tree for tables); suspects re-weighted and the best model "
        "retrained; kept if the validation score rises",
        "label_smoothing": f"tried ({LABEL_SMOOTHING}) when one class pair holds >= "
        f"{CONFUSABLE_SHARE:.0%} of the dev errors (and >= 5 errors); kept if the validation "
        "score rises",
        "tweak": f"the weakest class (dev recall below the mean by > {WEAK_CLASS_GAP}) raised "
        "by `tweak` (calibration, synaptic join) chosen on one stratified half of validation; "
        "kept if, on the other half, the class rises and overall accuracy drops by at most "
        f"max_drop; run when ~{TWEAK_COST}x the diagnosis's seconds are left; not for "
        "metric='roc_auc' (a class tweak moves decisions, not the ranking AUROC reads)",
        "ensemble": f"greedy ensemble selection (Caruana et al. 2004; {ENSEMBLE_ROUNDS} rounds "
        "with replacement) over every leaderboard model's validation probabilities, scored by "
        "`metric`; kept if its validation score beats the best single model's; not after a "
        "kept tweak",
    }


def check_steps(steps) -> list[str]:
    """``steps`` (None: all) in the order of :data:`STEPS`; unknown names and a missing floor
    refused.

    >>> check_steps(["tweak", "floor"])
    ['floor', 'tweak']
    """
    chosen = list(STEPS if steps is None else steps)
    unknown = [s for s in chosen if s not in STEPS]
    if unknown or not chosen:
        raise ValueError(f"unknown steps {unknown}; choose among: {', '.join(STEPS)}.")
    if "floor" not in chosen:
        raise ValueError("steps must include 'floor': it trains the first model.")
    return [s for s in STEPS if s in chosen]  # the steps' own order, whatever was given


def auto(
    data,
    *,
    time_budget: str | float = "20m",
    max_drop: float = 0.002,
    metric: str = "accuracy",
    steps: tuple[str, ...] | list[str] | None = None,
    run_dir: str | os.PathLike | RunDirectory | None = None,
    resume: bool = False,
    seed: int = 0,
    verbose: int = 1,
) -> AutoResult:
    """Train a floor model, search, diagnose the best model and act on the diagnosis, within
    ``time_budget`` (all calls of a resumed run together); returns an :class:`AutoResult`.

    ``data`` is a :class:`~automl_kit.datasets.Dataset` (images or a table) with validation and
    test splits: every choice is made on validation, test is only reported. ``max_drop``: the
    overall validation accuracy a class tweak may cost (a fraction; 0.002 is 0.2 points).
    ``metric``: what chooses the final model and decides whether an action is kept on
    validation: ``"accuracy"`` or ``"roc_auc"`` (two classes only, e.g. a rare outcome, where
    accuracy barely moves).
    ``steps``: a subset of :data:`STEPS` to run (default all; e.g. without ``"search"``).
    """
    total = parse_duration(time_budget)
    if not total or total <= 0:
        raise ValueError(
            f"time_budget must be a positive duration (e.g. '20m'), got {time_budget!r}."
        )
    if isinstance(max_drop, bool) or not 0 <= max_drop <= 1:
        raise ValueError(
            f"max_drop is a fraction of accuracy in [0, 1] (0.002: 0.2 points), got {max_drop!r}."
        )
    chosen = check_steps(steps)
    check_metric(metric, data)
    if data.x_val is None or len(data.y_val) == 0 or data.x_test is None or len(data.y_test) == 0:
        raise ValueError(
            "auto chooses on a validation split and reports on a test split: load the data "
            "with n_val > 0 and n_test > 0."
        )
    own = not isinstance(run_dir, RunDirectory)
    run = run_dir if not own else RunDirectory.open(run_dir, "auto", resume=resume)
    try:
        job = _AutoRun(data, run, total, max_drop, metric, chosen, seed, verbose)
        result = job.execute()
        if own and not job.was_finished:
            run.mark_finished()
    except Interrupted:
        if own:
            run.mark_stopped()
        raise
    finally:
        if own:
            run.close()
    return result


def check_metric(metric: str, data) -> None:
    """Refuse a ``metric`` outside :data:`METRICS`, or AUROC for data without two classes (in
    validation too)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose among: {', '.join(METRICS)}.")
    if metric != "roc_auc":
        return
    if data.num_classes != 2:
        raise ValueError(
            f"metric 'roc_auc' needs two classes; these data have {data.num_classes}: use "
            "metric='accuracy'."
        )
    if data.y_val is not None and len(np.unique(data.y_val)) != 2:
        raise ValueError(
            "metric 'roc_auc' needs both classes in the validation split; draw a larger "
            "validation split (n_val) or use metric='accuracy'."
        )


class _AutoRun:
    """One run of :func:`auto`: its state (``steps.json``) and one method per step."""

    def __init__(
        self,
        data,
        run: RunDirectory,
        total: float,
        max_drop: float,
        metric: str,
        steps,
        seed,
        verbose,
    ):
        from automl_kit.training import Recipe

        self.data, self.run, self.total, self.max_drop = data, run, total, max_drop
        self.steps, self.seed, self.verbose = steps, seed, verbose
        self.metric, self.score = metric, METRICS[metric]
        self.images = len(data.input_shape) == 3
        self.recipe = Recipe()
        settings = {
            "time_budget": total,
            "max_drop": max_drop,
            "metric": metric,
            "steps": steps,
            "seed": seed,
            "dataset": data.summary(),
        }
        state_file = run.root / "steps.json"
        if state_file.is_file():
            self.state = read_json(state_file)
            saved = self.state["settings"]
            saved.setdefault("metric", "accuracy")  # runs from before the option
            changed = [k for k in ("metric", "steps", "seed", "dataset") if saved[k] != settings[k]]
            if changed:
                raise ValueError(
                    f"{run.root} holds an auto run with other {', '.join(changed)}; resume it "
                    "with the same data and settings, or start a new run directory."
                )
            self.state["settings"] = settings  # a new time budget or max_drop applies
        else:
            self.state = {"settings": settings, "spent": 0.0, "records": {}, "leaderboard": []}
        # resuming a finished run changes nothing (docs/architecture.md, run-directory rules)
        self.was_finished = run.status == "finished"
        self._models: dict[str, object] = {}
        self.fits = run.root / "fits"  # per-epoch checkpoints of the fit in progress

    # ---- bookkeeping -------------------------------------------------------------------
    def say(self, message: str) -> None:
        if self.verbose:
            print(f"auto: {message}", flush=True)

    def budget_for(self, step: str) -> float:
        """Seconds ``step`` may spend: see :func:`plan` (``floor``, ``search``, ``later_steps``)."""
        left = max(self.total - self.state["spent"], 0.0)
        if step == "floor":
            return FLOOR_SHARE * left
        if step == "search":
            return left - self.reserved()
        return left

    def reserved(self) -> float:
        """Seconds kept for after the search: the searched net's final fit (one network's cost)
        and :data:`RETRAININGS` retrainings of the best model so far."""
        return self.model_cost() + RETRAININGS * self.best()["seconds"]

    def model_cost(self) -> float:
        """Seconds of the floor's most expensive model: what one more network's fit costs."""
        return max(e["seconds"] for e in self.state["leaderboard"] if e["step"] == "floor")

    def add(self, trained: Trained, step: str) -> dict:
        """Score ``trained`` on validation and test, save it, and put it on the leaderboard."""
        path = trained.save(self.run.root / "models" / trained.name)
        shutil.rmtree(self.fits / trained.name, ignore_errors=True)  # saved: no resume needed
        entry = {
            "name": trained.name,
            "step": step,
            "kind": trained.kind,
            "spec": trained.spec,
            "val_accuracy": float(trained.val_accuracy),
            **self._scores(trained.model),
            "seconds": round(trained.seconds, 1),
            "epochs": trained.epochs,
            "parameters": trained.parameters(),
            "path": self.run.relative(path),
            **trained.extra,
        }
        self.state["leaderboard"].append(entry)
        self._models[trained.name] = trained.model
        auroc = (
            f", AUROC {entry['val_auroc']:.4f} / {entry['test_auroc']:.4f}"
            if entry.get("val_auroc") is not None and entry.get("test_auroc") is not None
            else ""
        )
        self.say(
            f"{trained.name}: validation {entry['val_accuracy']:.4f}, test "
            f"{entry['test_accuracy']:.4f}{auroc} ({entry['seconds']:.0f} s)"
        )
        return entry

    def _scores(self, model) -> dict:
        from sklearn.metrics import roc_auc_score

        p_test = probabilities(model, self.data.x_test)
        scores = {"test_accuracy": float(np.mean(p_test.argmax(1) == self.data.y_test))}
        if self.data.num_classes == 2:  # ranking quality, as tables are often judged
            for split, p, y in (
                ("val", probabilities(model, self.data.x_val), self.data.y_val),
                ("test", p_test, self.data.y_test),
            ):
                scores[f"{split}_auroc"] = (
                    float(roc_auc_score(y, p[:, 1])) if len(set(y)) == 2 else None
                )
        return scores

    def best(self) -> dict:
        return max(self.state["leaderboard"], key=lambda e: e[self.score])  # first of ties

    def model_of(self, entry: dict):
        if entry["name"] not in self._models:
            self._models[entry["name"]] = load_trained_model(self.run.resolve(entry["path"]))
        return self._models[entry["name"]]

    # ---- the run -----------------------------------------------------------------------
    def execute(self) -> AutoResult:
        if self.was_finished:
            return AutoResult.load(self.run.root)
        self.run.mark_running()
        for step in self.steps:
            if step in self.state["records"]:
                continue
            raise_if_stop_requested(f"before {step}")
            seconds = self.budget_for(step)
            started = time.perf_counter()
            record = getattr(self, f"_{step}")(seconds)
            record.setdefault("ran", True)
            record["budget_seconds"] = round(seconds, 1)
            record["seconds"] = round(time.perf_counter() - started, 1)
            self.state["spent"] += record["seconds"]
            self.state["records"][step] = record
            self.run.write_json("steps.json", self.state)
            if not record["ran"]:
                self.say(f"{step} skipped: {record['reason']}")
        return self.finish()

    def _skip(self, reason: str) -> dict:
        return {"ran": False, "reason": reason}

    def _floor(self, seconds: float) -> dict:
        names = []
        if self.images:
            self.say(f"floor: the textbook CNN on the recipe (up to {seconds:.0f} s)")
            trained = fit_keras(
                "textbook_cnn", {"kind": "keras", "zoo": "textbook_cnn"}, self.data,
                self.recipe, seconds=seconds, seed=self.seed, most_epochs=PLATEAU_EPOCHS,
                verbose=self.verbose, checkpoints=self.fits / "textbook_cnn",
            )  # fmt: skip
            names.append(self.add(trained, "floor")["name"])
        else:
            self.say("floor: a tuned XGBoost and the dense-space default")
            tree = fit_tree("xgboost", self.data, seed=self.seed, metric=self.metric)
            names.append(self.add(tree, "floor")["name"])
            trained = fit_keras(
                "dense_default", dense_default_spec(), self.data, self.recipe,
                seconds=max(seconds - tree.seconds, 1.0), seed=self.seed,
                most_epochs=PLATEAU_EPOCHS, verbose=self.verbose,
                checkpoints=self.fits / "dense_default",
            )  # fmt: skip
            names.append(self.add(trained, "floor")["name"])
        return {"models": names}

    def _search(self, seconds: float) -> dict:
        from automl_kit.search import DenseSpace, StageSpace, VariableLengthGA

        folder = self.run.root / "search"
        needed = max(MIN_SEARCH_SECONDS, self.model_cost())
        if seconds < needed and not folder.exists():
            return self._skip(
                f"{max(seconds, 0):.0f} s left after reserving {self.reserved():.0f} s for the "
                f"final fit and {RETRAININGS} retrainings, under the {needed:.0f} s a search needs"
            )
        space = StageSpace() if self.images else DenseSpace()
        self.say(f"search: the VLGA on the {space.name} space ({seconds:.0f} s)")
        searcher = VariableLengthGA(space, seed=self.seed, verbose=self.verbose)
        result = searcher.search(
            self.data.x_train,
            self.data.y_train,
            validation_data=self.data.validation_data,
            time_budget=max(seconds, 1.0),
            run_dir=folder,
            resume=folder.exists(),
        )
        return {
            "space": space.name,
            "evaluations": result.evaluations,
            "best_fitness": result.best_fitness,
            "stop_reason": result.stop_reason,
            "spec": {
                "kind": "keras",
                "space": space.get_config(),
                "genes": list(result.best.genes),
            },
            "architecture": result.describe(),
        }

    def _final_fit(self, seconds: float) -> dict:
        search = self.state["records"].get("search")
        if not search or not search["ran"]:
            return self._skip("no search ran")
        floor = max(
            (e for e in self.state["leaderboard"] if e["step"] == "floor" and e["kind"] == "keras"),
            key=lambda e: e["seconds"],
        )
        self.say(f"final fit of the searched architecture, {floor['epochs']} epochs as the floor")
        trained = fit_keras(
            "searched", search["spec"], self.data, self.recipe, seconds=seconds,
            seed=self.seed, most_epochs=PLATEAU_EPOCHS, epochs=floor["epochs"],
            verbose=self.verbose, checkpoints=self.fits / "searched",
        )  # fmt: skip
        return {"models": [self.add(trained, "final_fit")["name"]]}

    def _diagnose(self, seconds: float) -> dict:
        from automl_kit.diagnose import diagnose

        best = self.best()
        self.say(f"diagnose {best['name']}")
        diagnosis = diagnose(self.model_of(best), self.data, run_dir=self.run.root / "diagnosis")
        dev = diagnosis.reports["dev"]
        recall, support = np.asarray(dev.recall), np.asarray(dev.support)
        present = support > 0
        weakest = int(np.argmin(np.where(present, recall, np.inf)))
        confusion = np.asarray(dev.confusion, float)
        errors = confusion.sum() - np.trace(confusion)
        pair_errors = confusion + confusion.T
        np.fill_diagonal(pair_errors, 0)
        i, j = np.unravel_index(np.argmax(pair_errors), pair_errors.shape)
        share = float(pair_errors[i, j] / errors) if errors else 0.0
        return {
            "model": best["name"],
            "verdict": diagnosis.verdict,
            "focus": list(diagnosis.focus),
            "errors": dict(diagnosis.errors),
            "recommendations": [r.to_dict() for r in diagnosis.recommendations[:3]],
            "weakest_class": weakest,
            "weakest_recall": float(recall[weakest]),
            "mean_recall": float(recall[present].mean()),
            "confusable_pair": [int(min(i, j)), int(max(i, j))],
            "confusable_share": share,
            "confusable_errors": int(pair_errors[i, j]),
            "report": "diagnosis/report.html",
        }

    def _judge(self, entry: dict, best: dict) -> dict:
        """``entry`` against the best before it, on validation in the run's metric."""
        kept = entry[self.score] > best[self.score]
        test = f"test_{self.score[4:]}"
        return {
            "models": [entry["name"]],
            "of": best["name"],
            "metric": self.metric,
            "val_before": best[self.score],
            "val_after": entry[self.score],
            "test_before": best[test],
            "test_after": entry[test],
            "kept": kept,
            "why": f"validation {self.metric} {'rose' if kept else 'did not rise'}",
        }

    def _retrain(
        self, name: str, step: str, seconds: float, *, recipe=None, sample_weight=None
    ) -> dict:
        """The best model's spec retrained from scratch with a change; kept if its validation
        score rises."""
        best = self.best()
        if best["kind"] == "tree":
            trained = fit_tree(
                name,
                self.data,
                seed=self.seed,
                params=best["spec"]["params"],
                sample_weight=sample_weight,
            )
        else:
            trained = fit_keras(
                name, best["spec"], self.data, recipe or self.recipe, seconds=seconds,
                seed=self.seed, most_epochs=PLATEAU_EPOCHS, epochs=best["epochs"],
                sample_weight=sample_weight, verbose=self.verbose, checkpoints=self.fits / name,
            )  # fmt: skip
        return self._judge(self.add(trained, step), best)

    def _label_issues(self, seconds: float) -> dict:
        from automl_kit.diagnose import find_label_issues, out_of_fold_probabilities

        best = self.best()
        if self.images:
            floor = next(e for e in self.state["leaderboard"] if e["name"] == "textbook_cnn")
            epoch_seconds = floor["seconds"] / max(floor.get("epochs_run") or floor["epochs"], 1)
            retrain = best["seconds"]
            # each fold trains on (k-1)/k of the data
            per_epoch = OOF_FOLDS * epoch_seconds * (OOF_FOLDS - 1) / OOF_FOLDS
            epochs = int(min(floor["epochs"], (seconds - retrain) // max(per_epoch, 1e-9)))
            if epochs < OOF_FEWEST_EPOCHS:
                return self._skip(
                    f"{seconds:.0f} s left: out-of-fold CNNs need ~{per_epoch * OOF_FEWEST_EPOCHS:.0f} s "
                    f"and the retraining ~{retrain:.0f} s"
                )
            oof_model, oof = "cnn", {"epochs": epochs}
        else:
            from xgboost import XGBClassifier

            params = next(e for e in self.state["leaderboard"] if e["name"] == "xgboost")["spec"][
                "params"
            ]
            settings = {k: v for k, v in params.items() if k != "best_rounds"}
            oof_model = XGBClassifier(
                **settings, n_estimators=params["best_rounds"], random_state=self.seed, n_jobs=1
            )
            oof = {}
        self.say(
            f"label issues: {OOF_FOLDS}-fold out-of-fold probabilities ({'CNN' if self.images else 'XGBoost'})"
        )
        started = time.perf_counter()
        x = (
            self.data.x_train
            if self.images
            else self.data.x_train.reshape(len(self.data.x_train), -1)
        )
        p = out_of_fold_probabilities(
            x, self.data.y_train, oof_model, cv=OOF_FOLDS, seed=self.seed,
            num_classes=self.data.num_classes, **oof,
        )  # fmt: skip
        issues = find_label_issues(self.data, p, seed=self.seed)
        found = {
            "suspects": len(issues),
            "share": len(issues) / len(self.data.y_train),
            "oof_seconds": round(time.perf_counter() - started, 1),
            "oof_model": "textbook_cnn" if self.images else "xgboost",
        }
        self.run.write_json("label_issues.json", issues.summary())
        if not len(issues):
            return {**self._skip("no suspected labels"), **found}
        self.say(f"{len(issues)} suspected labels; retraining {best['name']} with them re-weighted")
        weights = issues.sample_weight("reweight")
        left = max(seconds - found["oof_seconds"], 1.0)
        return {
            **found,
            **self._retrain(
                f"{best['name']}_reweighted", "label_issues", left, sample_weight=weights
            ),
        }

    def _cannot_act(self, best: dict, found: dict | None) -> dict | None:
        """Why a Keras-only action that reads the diagnosis cannot run, or None."""
        if best["kind"] != "keras":
            return self._skip(f"the best model ({best['name']}) is a tree")
        if not found or not found.get("ran", True):
            return self._skip("no diagnosis")
        return None

    def _label_smoothing(self, seconds: float) -> dict:
        best = self.best()
        found = self.state["records"].get("diagnose")
        if blocked := self._cannot_act(best, found):
            return blocked
        if found["confusable_share"] < CONFUSABLE_SHARE or found["confusable_errors"] < 5:
            return self._skip(
                f"no confusable pair: the most confused pair {found['confusable_pair']} makes "
                f"{found['confusable_errors']} dev errors ({found['confusable_share']:.0%})"
                if found["confusable_errors"]
                else "no confusable pair: no dev errors"
            )
        needed = best["seconds"]
        if seconds < 0.8 * needed:
            return self._skip(f"{seconds:.0f} s left, the retraining takes ~{needed:.0f} s")
        self.say(
            f"classes {found['confusable_pair']} are confusable: label smoothing {LABEL_SMOOTHING}"
        )
        recipe = self.recipe.with_options(label_smoothing=LABEL_SMOOTHING)
        return {
            "pair": found["confusable_pair"],
            **self._retrain(f"{best['name']}_smoothed", "label_smoothing", seconds, recipe=recipe),
        }

    def _tweak(self, seconds: float) -> dict:
        from automl_kit.tweak import tweak

        best = self.best()
        found = self.state["records"].get("diagnose")
        if self.metric == "roc_auc":
            return self._skip("metric is roc_auc: a class tweak moves decisions, not the ranking")
        if blocked := self._cannot_act(best, found):
            return blocked
        if found["model"] != best["name"]:
            found = self._diagnose(seconds)  # a later step changed the best model
        weak, gap = found["weakest_class"], found["mean_recall"] - found["weakest_recall"]
        if gap <= WEAK_CLASS_GAP:
            return self._skip(
                f"no weak class: the weakest ({weak}) trails the mean recall by {gap:.3f}"
            )
        needed = TWEAK_COST * self.state["records"]["diagnose"]["seconds"]
        if seconds < needed:
            return self._skip(
                f"class {weak} is weak, but {max(seconds, 0):.0f} s are left and a tweak "
                f"needs ~{needed:.0f} s"
            )
        self.say(f"class {weak} is weak (dev recall {found['weakest_recall']:.3f}): tweak")
        choose, confirm = self._validation_halves()
        model = self.model_of(best)
        result = tweak(model, choose, [weak], max_drop=self.max_drop)
        result.save(self.run.root / "tweak")
        x_half, y_half = confirm.validation_data
        before = probabilities(model, x_half).argmax(1)
        after = probabilities(result.model, x_half).argmax(1)
        in_class = y_half == weak
        point = {
            "overall_before": float(np.mean(before == y_half)),
            "overall_after": float(np.mean(after == y_half)),
            "target_before": float(np.mean(before[in_class] == weak)) if in_class.any() else 0.0,
            "target_after": float(np.mean(after[in_class] == weak)) if in_class.any() else 0.0,
        }
        kept = (
            point["target_after"] > point["target_before"]
            and point["overall_after"] >= point["overall_before"] - self.max_drop - 1e-12
        )
        x_val, y_val = self.data.validation_data
        return {
            "of": best["name"],
            "target": weak,
            "method": result.method,
            "val_before": best["val_accuracy"],
            "val_after": float(np.mean(probabilities(result.model, x_val).argmax(1) == y_val)),
            "held_out_half": point,
            "test_before": result.test_accuracy_before,
            "test_after": result.test_accuracy_after,
            "kept": kept,
            "why": (
                f"class {weak} rose on the held-out half of validation, overall within max_drop "
                f"{self.max_drop:g}"
                if kept
                else f"on the held-out half of validation class {weak} did not rise, or overall "
                f"accuracy fell by more than max_drop {self.max_drop:g}"
            ),
            "model_path": "tweak/tweaked.keras",
        }

    def _ensemble(self, seconds: float) -> dict:
        from automl_kit.auto._models import ensemble_selection

        if self.state["records"].get("tweak", {}).get("kept"):
            return self._skip("a tweak was kept: the tweaked model is final")
        board = sorted(self.state["leaderboard"], key=lambda e: -e[self.score])  # ties: best
        if len(board) < 2:
            return self._skip("a single model on the leaderboard")
        self.say(f"ensemble selection over {len(board)} models")
        started = time.perf_counter()
        x_val, y_val = self.data.validation_data
        p_val = {e["name"]: probabilities(self.model_of(e), x_val) for e in board}
        counts = ensemble_selection(p_val, self._scorer(y_val), rounds=ENSEMBLE_ROUNDS)
        best = self.best()
        if len(counts) < 2:
            return {
                **self._skip(f"the selection kept {best['name']} alone: no average scored higher"),
                "members": counts,
            }
        entries = {e["name"]: e for e in board}
        model = Ensemble(
            [self.model_of(entries[n]) for n in counts],
            list(counts.values()),
            [Path(entries[n]["path"]).name for n in counts],  # beside ensemble.json in models/
        )
        average = sum(w * p_val[n] for n, w in zip(counts, model.weights))
        trained = Trained(
            "ensemble",
            {"kind": "ensemble", "members": counts},
            model,
            float(np.mean(average.argmax(1) == y_val)),
            time.perf_counter() - started,
        )
        judged = self._judge(self.add(trained, "ensemble"), best)
        return {"weights": dict(zip(counts, model.weights)), **judged}

    def _scorer(self, y):
        """The run's metric on labels ``y`` as a function of class probabilities."""
        if self.metric == "roc_auc":
            from sklearn.metrics import roc_auc_score

            return lambda p: float(roc_auc_score(y, p[:, 1]))
        return lambda p: float(np.mean(p.argmax(1) == y))

    def _validation_halves(self):
        """The data with half its validation split (stratified, ``seed``) for ``tweak`` to choose
        on, and with the other half, on which the choice is confirmed: choosing among many
        settings on one split overrates the best of them."""
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(self.data.y_val))
        first, second = train_test_split(
            rows, test_size=0.5, stratify=self.data.y_val, random_state=self.seed
        )

        def part(index):
            return dataclasses.replace(
                self.data,
                x_val=self.data.x_val[index],
                y_val=self.data.y_val[index],
                index_val=None if self.data.index_val is None else self.data.index_val[index],
            )

        return part(np.sort(first)), part(np.sort(second))

    def finish(self) -> AutoResult:
        best = self.best()
        tweaked = self.state["records"].get("tweak", {})
        final = {
            "name": best["name"],
            "kind": best["kind"],
            "val_accuracy": best["val_accuracy"],
            "test_accuracy": best["test_accuracy"],
            **{k: best[k] for k in ("val_auroc", "test_auroc") if k in best},
            "metric": self.metric,
        }
        source = self.run.resolve(best["path"])
        if tweaked.get("kept") and tweaked.get("of") == best["name"]:
            source = self.run.root / tweaked["model_path"]
            final.update(
                name=f"{best['name']}_tweaked",
                val_accuracy=tweaked["val_after"],
                **self._scores(load_trained_model(source)),  # test accuracy, AUROC if two classes
            )
        target = self.run.root / f"final_model{Path(source).suffix}"
        if best["kind"] == "ensemble":  # the members' files, relative to the run's folder
            members = self.model_of(best)
            paths = [(source.parent / p).relative_to(self.run.root) for p in members.paths]
            Ensemble(members.members, members.weights, paths).save(target)
        else:
            shutil.copyfile(source, target)
        final["path"] = target.name
        result = AutoResult(
            leaderboard=sorted(self.state["leaderboard"], key=lambda e: -e[self.score]),
            records=self.state["records"],
            final=final,
            plan={
                **plan(),
                "time_budget": self.total,
                "max_drop": self.max_drop,
                "metric": self.metric,
            },
            spent_seconds=self.state["spent"],
            dataset=self.data.summary(),
            run_dir=str(self.run.root),
        )
        result.save(self.run)
        return result
