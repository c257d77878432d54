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
    "CNNBoostedClassifier.load(..., base_estimator=)"
)


def save_booster(model, directory) -> list[str]:
    """Write a fitted booster's files to ``directory``; the names written."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    model.cnn_.save(root / "cnn.keras")
    written = ["cnn.keras"]
    base = model.base_estimator_
    base_file = {"xgboost": "base_model.json", "catboost": "base_model.cbm"}.get(
        type(base).__module__.split(".")[0]
    )
    if base_file:
        base.save_model(str(root / base_file))
        written.append(base_file)
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
        "base_model": {
            "class": f"{type(base).__module__}.{type(base).__name__}",
            "file": base_file,
            "note": None if base_file else _NOT_SAVED,
        },
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


def load_booster(cls, directory, base_estimator=None):
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
        base_estimator = _load_base(root, state["base_model"])
    elif not callable(getattr(base_estimator, "predict_proba", None)):
        raise ValueError("base_estimator must be a fitted classifier with predict_proba.")
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
    return model


def _load_base(root: Path, info: dict):
    if not info["file"]:
        raise ValueError(
            f"the base model ({info['class']}) was not saved: scikit-learn models have no "
            "format but pickle. Pass the fitted model as base_estimator=, or use an "
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
