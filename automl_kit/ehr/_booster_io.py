"""Saving and loading a fitted :class:`~automl_kit.ehr.booster.CNNBoostedClassifier` without
pickle: ``cnn.keras``, ``booster.json``, ``mapper/`` and the base model in its library's own
format (``base_model.json`` for XGBoost, ``base_model.cbm`` for CatBoost)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automl_kit.ehr.mapper import EHRImageMapper
from automl_kit.utils.io import read_json, write_json

_NOT_SAVED = (
    "not saved: scikit-learn models have no non-pickle format; pass the fitted model to "
    "CNNBoostedClassifier.load(..., {argument}=)"
)


def save_booster(model, directory) -> list[str]:
    """Write a fitted booster's files to ``directory``; the names written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    model.cnn_.save(root / "cnn.keras")
    written = ["cnn.keras"]
    trees = {"base_model": _save_tree(model.base_estimator_, root, "base_model")}
    if model.stacked_estimator_ is not None:
        trees["stacked_model"] = _save_tree(model.stacked_estimator_, root, "stacked_model")
    written += [info["file"] for info in trees.values() if info["file"]]
    if model.mapper is not None:  # so that a loaded (or cloned) model maps X as this one
        model.mapper.save(root / "mapper")
        written.append("mapper/")
    params = {
        k: v
        for k, v in model.get_params(deep=False).items()
        if k not in ("base_estimator", "mapper", "layout", "grid_shape")
    }
    params["layout"] = None if model.layout is None else np.asarray(model.layout).tolist()
    params["grid_shape"] = None if model.grid_shape is None else list(model.grid_shape)
    stacker = model.stacker_
    state = {
        "params": params,
        **trees,
        "classes": model.classes_.tolist(),
        "n_features_in": int(model.n_features_in_),
        "n_codes": int(model.n_codes_),
        "n_windows": int(model.n_windows_),
        "layout": np.asarray(model.layout_).tolist(),
        "grid_shape": list(model.grid_shape_),
        "scale": model.scale_.tolist(),
        "cnn_epochs_kept": int(model.cnn_epochs_),
        "weight": model.weight_,
        "base_reference": model.base_reference_.tolist(),
        "cnn_reference": model.cnn_reference_.tolist(),
        "stacker": None
        if stacker is None
        else {"coef": stacker.coef_.tolist(), "intercept": stacker.intercept_.tolist()},
    }
    write_json(root / "booster.json", state)
    written.append("booster.json")
    return written


def _save_tree(tree, root: Path, stem: str) -> dict:
    """Save an XGBoost or CatBoost model in its own format; what booster.json records of it."""
    suffix = {"xgboost": ".json", "catboost": ".cbm"}.get(type(tree).__module__.split(".")[0])
    if suffix:
        tree.save_model(str(root / (stem + suffix)))
    return {
        "class": f"{type(tree).__module__}.{type(tree).__name__}",
        "file": stem + suffix if suffix else None,
        "note": None
        if suffix
        else _NOT_SAVED.format(
            argument="base_estimator" if stem == "base_model" else "stacked_estimator"
        ),
    }


def load_booster(cls, directory, base_estimator=None, stacked_estimator=None):
    """A fitted ``cls`` from :func:`save_booster`'s files (see ``CNNBoostedClassifier.load``)."""
    import keras

    root = Path(directory)
    if not (root / "booster.json").is_file() or not (root / "cnn.keras").is_file():
        raise ValueError(
            f"{root} lacks booster.json or cnn.keras: not a directory written by "
            "CNNBoostedClassifier.save (or an `automl-kit ehr` run's model/ folder)."
        )
    state = read_json(root / "booster.json")
    if base_estimator is None:
        base_estimator = _load_tree(root, state["base_model"], "base_estimator")
    elif not callable(getattr(base_estimator, "predict_proba", None)):
        raise ValueError("base_estimator must be a fitted classifier with predict_proba.")
    if stacked_estimator is None and state.get("stacked_model"):
        stacked_estimator = _load_tree(root, state["stacked_model"], "stacked_estimator")
    params = dict(state["params"])
    # files written before the mapper and layout were kept: the fitted state still predicts
    params.setdefault("layout", None)
    params.setdefault("grid_shape", None)
    if (root / "mapper").is_dir():
        params["mapper"] = EHRImageMapper.load(root / "mapper")
    model = cls(**params)
    model.base_estimator_ = base_estimator
    model.cnn_ = keras.models.load_model(root / "cnn.keras", compile=False)
    model.classes_ = np.asarray(state["classes"])
    model.n_features_in_ = int(state["n_features_in"])
    model.n_codes_, model.n_windows_ = int(state["n_codes"]), int(state["n_windows"])
    model.layout_ = np.asarray(state["layout"], dtype=np.int64)
    model.grid_shape_ = tuple(state["grid_shape"])
    model.scale_ = np.asarray(state["scale"], dtype=np.float32)
    model.cnn_epochs_ = int(state["cnn_epochs_kept"])
    model.weight_ = state["weight"]
    model.base_reference_ = np.asarray(state["base_reference"], dtype=np.float64)
    model.cnn_reference_ = np.asarray(state["cnn_reference"], dtype=np.float64)
    model.stacker_ = None if state["stacker"] is None else _stacker(state["stacker"])
    model.stacked_estimator_ = stacked_estimator
    return model


def _load_tree(root: Path, info: dict, argument: str):
    if not info["file"]:
        raise ValueError(
            f"the {argument.split('_')[0]} model ({info['class']}) was not saved: scikit-learn "
            f"models have no format but pickle. Pass the fitted model as {argument}=, or use an "
            "XGBoost/CatBoost base model, which are saved in their own formats."
        )
    if info["file"].endswith(".json"):
        from xgboost import XGBClassifier as Base
    else:
        from catboost import CatBoostClassifier as Base
    base = Base()
    base.load_model(str(root / info["file"]))
    return base


def _stacker(saved: dict):
    from sklearn.linear_model import LogisticRegression

    stacker = LogisticRegression()
    stacker.coef_ = np.asarray(saved["coef"])
    stacker.intercept_ = np.asarray(saved["intercept"])
    stacker.classes_ = np.array([0, 1])
    stacker.n_features_in_ = 2
    return stacker
