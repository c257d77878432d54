"""CNN-boosted tree models on EHR images: layouts, base models, a tuned tree (issue 14, Table 5.1).

Per data set and seed (the seed draws the patient split and seeds every model): split the
patients (stratified, by patient), count each code per window on the training codes, and fit

* the base models on [counts (feature-major) + demographics]: RF, XGB, CatBoost, and the
  ensembles RF+XGB, XGB+Cat (mean of the two probabilities);
* an ``EHRImageMapper`` per layout (GA of Alg. 3, random, embedding = PCA of the feature
  correlation (DeepInsight-style), IGTD) on the training patients, and a
  ``CNNBoostedClassifier`` with the XGB base for each (``CNN-XGB(<layout>)``; ``CNN(<layout>)``
  is its CNN alone). Its base is the cell's fitted XGB (``Prefit``): the booster would refit
  the identical model (same rows, same seed), so the grid fits it once; its time is counted in
  each booster's time;
* ``CNN-RF(ga)`` and ``CNN-Cat(ga)``: the GA run's CNN combined with the RF / CatBoost scores
  by the booster's own rank average (its fitted weight: ``weight="auto"`` chooses the base
  model's share on validation AUPRC since issue 25, 0.5 before; percentiles against each
  model's training scores). With ``n_confusing=0`` the CNN does not depend on the base model, so it is trained
  once per layout; ``rank_check`` records that this recombination reproduces the booster's
  ranking for XGB;
* ``CNN-XGB(ga, feature)``: the CNN stacked into the trees (``combine="cnn_feature"``: XGB
  refitted with the CNN's out-of-fold logit as one more column), and ``CNN-XGB(ga, feature,
  auto)``, what that booster returns with ``weight="auto"`` (the base alone unless the
  stacked trees win on its validation split; both are fitted on the 80 % left after it);
* ``XGB-tuned``: a random search over XGBoost settings, each scored on a stratified inner
  validation split of the training patients (AUPRC), the best refitted on all of them, all
  within the compute that the GA booster (layout + XGB + CNN) took in the same cell. Compute is
  measured as this process's CPU time, not wall clock: the machine is shared, and other jobs'
  load would otherwise decide how many settings the search gets (both figures are recorded).

Metrics on the held-out patients: precision@K for the thesis's K in {100, 300, 500, 1000, 2000,
3000} *scaled to the test cohort* (K * n_test / 30,000: the thesis's K as a share of a 30,000-
patient cohort, i.e. top 0.33% ... 10%; the scaled K is in the JSON), AUROC, AUPRC. Paired
per-seed differences with bootstrap 95% intervals: each booster against its base model, the GA
layout against the other layouts, the GA booster against the tuned tree. Last, the layout GA's
speed on planted problems of 100, 400 and 1000 features (``automl_kit.ehr.layout_speed``).

    python -m benchmarks.ehr_boost --budget small    # 20k simulated + 20k diabetes patients, 3 seeds
    python -m benchmarks.ehr_boost --budget full     # 40k simulated + all 69.6k diabetes patients

Data: ``ehr_cohort`` (3% positive) and ``diabetes_events`` (UCI Diabetes 130-US, needs
``$AUTOML_KIT_DATA``; readmission <30 days at a random index encounter, 7.3% positive; the small
budget draws 20,000 of its patients, stratified, and pools codes used by fewer than 200).
"""

from __future__ import annotations

import os
import statistics
import time
from functools import lru_cache

import numpy as np

from benchmarks._common import (
    DIFFERENCE_COLUMNS,
    RESULTS,
    paired_differences,
    parser,
    run_grid,
    table,
)

THESIS_K = (100, 300, 500, 1000, 2000, 3000)
REFERENCE_COHORT = 30_000
LAYOUTS = ("ga", "random", "embedding", "igtd")

BUDGETS = {
    "small": {
        "sim_patients": 20_000,
        "diabetes_patients": 20_000,
        "diabetes_min_patients": 200,
        "test_size": 0.5,
        "seeds": [0, 1, 2],
        "trees": 100,
        "cat_iterations": 150,
        "ga": {"generations": 1000, "population": 60},
        "igtd_steps": 2000,
        "cnn_epochs": 10,  # at most: the booster stops early on its validation AUPRC
        "weight": "auto",  # the base model's share chosen on validation (0.5 before issue 25)
        "balance": 0.25,
        "speed_features": (100, 400, 1000),
        "speed_generations": 1000,
    },
    "full": {
        "sim_patients": 40_000,
        "diabetes_patients": None,
        "diabetes_min_patients": 50,
        "test_size": 0.5,
        "seeds": [0, 1, 2],
        "trees": 300,
        "cat_iterations": 500,
        "ga": {"generations": 2000, "population": 100},
        "igtd_steps": 10000,
        "cnn_epochs": 15,
        "weight": "auto",
        "balance": 0.5,
        "speed_features": (100, 400, 1000),
        "speed_generations": 5000,
    },
}


# ---- data ------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def cohort(name: str, budget_name: str):
    from automl_kit.datasets import diabetes_events, ehr_cohort

    budget = BUDGETS[budget_name]
    if name == "sim":
        return ehr_cohort(budget["sim_patients"], positive_rate=0.03, seed=0)
    if name == "diabetes":
        tables = diabetes_events(min_patients=budget["diabetes_min_patients"], seed=0)
        keep = budget["diabetes_patients"]
        if keep is not None and keep < len(tables):
            tables, _ = tables.split(test_size=1 - keep / len(tables), seed=12345)
        return tables
    raise ValueError(f"unknown data set {name!r}; choose one of: sim, diabetes.")


def features(train, test, codes):
    """[counts feature-major + demographics] for both splits, on the training codes/values."""
    xtr, _ = train.counts(codes)
    xte, _ = test.counts(codes)
    dtr, names = train.demographics()
    dte, _ = test.demographics(names=names)
    return (
        np.concatenate([xtr.reshape(len(xtr), -1), dtr], axis=1),
        np.concatenate([xte.reshape(len(xte), -1), dte], axis=1),
    )


# ---- models ----------------------------------------------------------------------------------


def make_base(kind: str, budget: dict, seed: int, **overrides):
    if kind == "RF":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=budget["trees"], min_samples_leaf=2, n_jobs=2, random_state=seed
        )
    if kind == "XGB":
        from xgboost import XGBClassifier

        params = {
            "n_estimators": budget["trees"],
            "max_depth": 4,
            "learning_rate": 0.08,
            "subsample": 0.9,
            "colsample_bytree": 0.8,
            **overrides,
        }
        return XGBClassifier(tree_method="hist", max_bin=64, n_jobs=2, random_state=seed, **params)
    if kind == "Cat":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(
            iterations=budget["cat_iterations"],
            depth=6,
            learning_rate=0.08,
            thread_count=2,
            random_seed=seed,
            verbose=0,
            allow_writing_files=False,
        )
    raise ValueError(kind)


#: Fitted base models by key, for ``Prefit`` (a cloned estimator keeps only its parameters).
FITTED: dict[str, object] = {}


def _prefit_class():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Prefit(ClassifierMixin, BaseEstimator):
        """A base model fitted already: ``fit`` looks it up by ``key`` in ``FITTED``."""

        def __init__(self, key: str = ""):
            self.key = key

        def fit(self, X, y):
            self.model_ = FITTED[self.key]
            self.classes_ = self.model_.classes_
            return self

        def predict_proba(self, X):
            return self.model_.predict_proba(X)

    return Prefit


def percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of ``values`` among sorted ``reference`` (the booster's rank scale)."""
    left = np.searchsorted(reference, values, side="left")
    right = np.searchsorted(reference, values, side="right")
    return (left + right) / (2.0 * len(reference))


def rank_average(base_train, base_test, cnn_reference, cnn_test, weight=0.5):
    return weight * percentile(np.sort(base_train), base_test) + (1 - weight) * percentile(
        cnn_reference, cnn_test
    )


def tuned_xgb(xtr, ytr, cpu_seconds: float, budget: dict, seed: int) -> tuple[object, dict]:
    """Random search within ``cpu_seconds`` of process CPU time (search + refit).

    The first setting is the default ``XGB``'s; a new random one is tried only while the mean
    try so far plus the refit (about 4/3 of a try, on all rows instead of 3/4) still fits.
    """
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    inner, valid = train_test_split(
        np.arange(len(ytr)), test_size=0.25, random_state=seed, stratify=ytr
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tried, best, best_score = [], None, -1.0
    while (
        not tried
        or (time.process_time() - cpu0) + (1 + 4 / 3) * ((time.process_time() - cpu0) / len(tried))
        <= cpu_seconds
    ):
        # the default setting first: a budget too small for a search gives the default model
        params = {}
        if tried:
            params = {
                "n_estimators": int(rng.integers(budget["trees"] // 2, 2 * budget["trees"] + 1)),
                "max_depth": int(rng.integers(2, 7)),
                "learning_rate": float(np.exp(rng.uniform(np.log(0.03), np.log(0.3)))),
                "subsample": float(rng.uniform(0.6, 1.0)),
                "colsample_bytree": float(rng.uniform(0.3, 1.0)),
                "min_child_weight": float(np.exp(rng.uniform(0, np.log(20)))),
            }
        model = make_base("XGB", budget, seed, **params).fit(xtr[inner], ytr[inner])
        score = float(average_precision_score(ytr[valid], model.predict_proba(xtr[valid])[:, 1]))
        tried.append({**params, "auprc_valid": score})
        if score > best_score:
            best, best_score = params, score
    model = make_base("XGB", budget, seed, **best).fit(xtr, ytr)
    return model, {
        "tried": len(tried),
        "best": best,
        "best_valid_auprc": best_score,
        "cpu_seconds": time.process_time() - cpu0,
        "wall_seconds": time.perf_counter() - wall0,
        "budget_cpu_seconds": cpu_seconds,
    }


def metrics(y: np.ndarray, score: np.ndarray, ks: dict[int, int]) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    order = np.argsort(-score, kind="stable")
    out = {f"p@{k}": float(y[order[:scaled]].mean()) for k, scaled in ks.items()}
    out["auroc"] = float(roc_auc_score(y, score))
    out["auprc"] = float(average_precision_score(y, score))
    return out


# ---- one cell --------------------------------------------------------------------------------


def run_boost(dataset: str, seed: int, budget_name: str) -> dict:
    from automl_kit.ehr import CNNBoostedClassifier, EHRImageMapper

    budget = BUDGETS[budget_name]
    tables = cohort(dataset, budget_name)
    train, test = tables.split(test_size=budget["test_size"], seed=seed)
    ytr, yte = train.labels, test.labels
    ks = {k: max(1, round(k * len(test) / REFERENCE_COHORT)) for k in THESIS_K}
    scores, seconds, layouts = {}, {}, {}
    train_scores = {}

    def timed(key, fn):
        cpu, wall = time.process_time(), time.perf_counter()
        value = fn()
        seconds[key] = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
        return value

    mappers = {}
    for name in LAYOUTS:
        options = {
            "ga": dict(budget["ga"]),
            "igtd": {"max_steps": budget["igtd_steps"]},
            "embedding": {"method": "pca"},
            "random": {},
        }[name]
        mapper = EHRImageMapper(layout=name, layout_options=options, seed=seed)
        mappers[name] = timed(f"layout({name})", lambda m=mapper: m.fit(train))
        layouts[name] = {
            "fitness": float(mappers[name].fitness_),
            "shape": list(mappers[name].shape_),
        }
    codes = mappers["ga"].features_
    for mapper in mappers.values():
        assert mapper.features_ == codes, "layouts must place the same codes"
    xtr, xte = features(train, test, codes)

    fitted = {}
    for kind in ("RF", "XGB", "Cat"):
        model = make_base(kind, budget, seed)
        fitted[kind] = timed(kind, lambda m=model: m.fit(xtr, ytr))
        scores[kind] = fitted[kind].predict_proba(xte)[:, 1]
        train_scores[kind] = fitted[kind].predict_proba(xtr)[:, 1]
    scores["RF+XGB"] = (scores["RF"] + scores["XGB"]) / 2
    scores["XGB+Cat"] = (scores["XGB"] + scores["Cat"]) / 2
    key = f"{dataset}/{seed}/XGB"
    FITTED[key] = fitted["XGB"]
    prefit = _prefit_class()

    rank_check = None
    weights, kept_epochs = {}, {}  # per layout: the base model's share and the CNN epochs kept
    for name, mapper in mappers.items():
        clf = CNNBoostedClassifier(
            prefit(key),
            mapper=mapper,
            n_image_features=len(codes),
            cnn_epochs=budget["cnn_epochs"],
            weight=budget.get("weight", 0.5),
            balance=budget["balance"],
            seed=seed,
        )
        timed(f"cnn({name})", lambda c=clf: c.fit(xtr, ytr))
        weights[name], kept_epochs[name] = clf.weight_, int(clf.cnn_epochs_)
        seconds[f"CNN-XGB({name})"] = {
            unit: sum(seconds[part][unit] for part in (f"layout({name})", "XGB", f"cnn({name})"))
            for unit in ("cpu", "wall")
        }
        parts = clf.scores(xte)
        scores[f"CNN({name})"] = parts["cnn"]
        scores[f"CNN-XGB({name})"] = parts["combined"]
        if name == "ga":
            mine = rank_average(
                train_scores["XGB"], parts["base"], clf.cnn_reference_, parts["cnn"], clf.weight_
            )
            rank_check = float(
                np.corrcoef(
                    np.argsort(np.argsort(mine)), np.argsort(np.argsort(parts["combined"]))
                )[0, 1]
            )
            for kind in ("RF", "Cat"):
                scores[f"CNN-{kind}(ga)"] = rank_average(
                    train_scores[kind], scores[kind], clf.cnn_reference_, parts["cnn"], clf.weight_
                )
    FITTED.pop(key)

    # the CNN stacked into the trees (issue 25): XGB refitted on the columns plus the CNN's
    # out-of-fold logit; "CNN-XGB(ga, feature)" is those trees, "CNN-XGB(ga, feature, auto)" what
    # the booster returns (the base model alone unless the stacked trees win on validation)
    stacked = CNNBoostedClassifier(
        make_base("XGB", budget, seed),
        mapper=mappers["ga"],
        n_image_features=len(codes),
        combine="cnn_feature",
        cnn_epochs=budget["cnn_epochs"],
        weight="auto",
        balance=budget["balance"],
        seed=seed,
    )
    timed("CNN-XGB(ga, feature)", lambda: stacked.fit(xtr, ytr))
    seconds["CNN-XGB(ga, feature)"]["cpu"] += seconds["layout(ga)"]["cpu"]
    seconds["CNN-XGB(ga, feature)"]["wall"] += seconds["layout(ga)"]["wall"]
    parts = stacked.scores(xte)
    cnn = np.clip(parts["cnn"], 1e-6, 1 - 1e-6)
    logit = np.log(cnn / (1 - cnn))  # the booster's own transform of the CNN's score
    trees = stacked.stacked_estimator_.predict_proba(np.column_stack([xte, logit]))[:, 1]
    scores["CNN-XGB(ga, feature)"] = trees
    scores["CNN-XGB(ga, feature, auto)"] = parts["combined"]
    stacking = {
        "validation_auprc": stacked.validation_auprc_by_model_,
        "margin": stacked.validation_margin_,
        "kept": "base" if stacked.weight_ == 1.0 else "stacked",
    }

    model, search = tuned_xgb(xtr, ytr, seconds["CNN-XGB(ga)"]["cpu"], budget, seed)
    scores["XGB-tuned"] = model.predict_proba(xte)[:, 1]
    seconds["XGB-tuned"] = {"cpu": search["cpu_seconds"], "wall": search["wall_seconds"]}

    return {
        "n_train": len(train),
        "n_test": len(test),
        "test_positives": int(yte.sum()),
        "n_codes": len(codes),
        "k_scaled": ks,
        "methods": {m: metrics(yte, s, ks) for m, s in scores.items()},
        "seconds": seconds,
        "layouts": layouts,
        "tuned_search": search,
        "rank_check": rank_check,
        "booster_weight": weights,
        "cnn_epochs_kept": kept_epochs,
        "stacking": stacking,
        "load_average": os.getloadavg()[0],
    }


def run_speed(n_features: int, budget_name: str) -> dict:
    try:
        from automl_kit.ehr import layout_speed
    except ImportError:  # not re-exported yet
        from automl_kit.ehr.speed import layout_speed

    budget = BUDGETS[budget_name]
    return {
        **layout_speed(n_features, generations=budget["speed_generations"], seed=0),
        "load_average": os.getloadavg()[0],
    }


# ---- summary ---------------------------------------------------------------------------------


def method_rows(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        if row.get("part") != "boost" or "methods" not in row:
            continue
        for method, values in row["methods"].items():
            out.append({"dataset": row["dataset"], "method": method, "seed": row["seed"], **values})
    return out


COMPARISONS = [
    # (arm, baseline)
    ("CNN-RF(ga)", "RF"),
    ("CNN-XGB(ga)", "XGB"),
    ("CNN-Cat(ga)", "Cat"),
    ("CNN-XGB(ga)", "CNN-XGB(random)"),
    ("CNN-XGB(ga)", "CNN-XGB(embedding)"),
    ("CNN-XGB(ga)", "CNN-XGB(igtd)"),
    ("CNN(ga)", "CNN(random)"),
    ("CNN-XGB(ga)", "XGB-tuned"),
    ("CNN-XGB(ga, feature)", "XGB"),
    ("CNN-XGB(ga, feature, auto)", "XGB"),
]
METRICS = [*(f"p@{k}" for k in THESIS_K), "auroc", "auprc"]


def figures(rows: list[dict]) -> dict:
    per_method = method_rows(rows)
    summary = []
    for dataset in dict.fromkeys(r["dataset"] for r in per_method):
        for method in dict.fromkeys(r["method"] for r in per_method if r["dataset"] == dataset):
            mine = [r for r in per_method if r["dataset"] == dataset and r["method"] == method]
            summary.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "seeds": len(mine),
                    **{m: statistics.fmean(r[m] for r in mine) for m in METRICS},
                }
            )
    differences = []
    for arm, baseline in COMPARISONS:
        for metric in METRICS:
            subset = [r for r in per_method if r["method"] in (arm, baseline)]
            differences += paired_differences(subset, metric=metric, baseline=baseline)
    speed = [r for r in rows if r.get("part") == "speed"]
    return {"runs": rows, "summary": summary, "differences": differences, "speed": speed}


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", default="sim,diabetes", help="comma-separated: sim, diabetes")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: budget's)")
    p.add_argument("--no-speed", action="store_true", help="skip the layout-GA speed part")
    p.add_argument("--resume", action="store_true", help="keep finished cells of the output JSON")
    args = p.parse_args(argv)
    budget = BUDGETS[args.budget]
    datasets = args.datasets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else budget["seeds"]
    if "diabetes" in datasets and not os.environ.get("AUTOML_KIT_DATA"):
        raise SystemExit("the diabetes half needs AUTOML_KIT_DATA (or pass --datasets sim).")
    out = args.out or str(RESULTS / f"ehr_boost-{args.budget}.json")
    cells = [{"part": "boost", "dataset": d, "seed": s} for s in seeds for d in datasets]
    if not args.no_speed:
        cells += [{"part": "speed", "n_features": n} for n in budget["speed_features"]]

    def run_cell(cell: dict) -> dict:
        if cell["part"] == "speed":
            return run_speed(cell["n_features"], args.budget)
        return run_boost(cell["dataset"], cell["seed"], args.budget)

    def on_row(row: dict, grid) -> None:
        if row["part"] == "speed":
            print(
                f"speed {row['n_features']} features: {row['generations_per_second']:.1f} gen/s, "
                f"converged after {row['generations_to_converge']} generations "
                f"({row['seconds_to_converge']:.1f} s); fitness {row['fitness']:.0f} "
                f"(random {row['random_fitness']:.0f}, bound {row['lower_bound']:.0f})",
                flush=True,
            )
            return
        m = row["methods"]
        print(
            f"{row['dataset']}/seed {row['seed']}: "
            + ", ".join(
                f"{k} p@100 {m[k]['p@100']:.3f} auprc {m[k]['auprc']:.3f}"
                for k in ("XGB", "CNN-XGB(ga)", "CNN-XGB(ga, feature)", "XGB-tuned")
            )
            + f" (load {row['load_average']:.1f})",
            flush=True,
        )

    started = time.perf_counter()
    grid = run_grid(
        "ehr_boost",
        cells,
        run_cell,
        out=out,
        resume=args.resume,
        budget=args.budget,
        figures=figures,
        on_row=on_row,
    )
    result = figures(grid.rows)
    print()
    print(table(result["summary"], ["dataset", "method", "seeds", *METRICS]))
    print()
    print(
        table(
            [d for d in result["differences"] if d["metric"] in ("p@100", "p@1000", "auprc")],
            ["dataset", "method", "baseline", "metric", *DIFFERENCE_COLUMNS],
        )
    )
    print(f"\nwall clock {time.perf_counter() - started:.0f} s; results: {grid.path}")
    if grid.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
