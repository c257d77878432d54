"""``diagnose(model, data)``: measure the errors of a trained Keras model and decompose them."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from automl_kit.diagnose._decompose import (
    DEFAULT_HIGH_HUMAN_ERROR,
    DEFAULT_TOLERANCE,
    Diagnosis,
    decompose_errors,
)
from automl_kit.diagnose._errors import confident_errors
from automl_kit.utils.interrupt import raise_if_stop_requested


def as_splits(data: Any) -> dict[str, Any]:
    """A ``Dataset`` or ``(x_train, y_train, x_val, y_val[, x_test, y_test])`` as a dict with
    ``x_<split>``, ``y_<split>``, ``index_<split>``, ``class_names``, ``name``."""
    from automl_kit.datasets import Dataset

    if isinstance(data, Dataset):
        out = {
            k: getattr(data, k)
            for s in ("train", "val", "test")
            for k in (f"x_{s}", f"y_{s}", f"index_{s}")
        }
        out.update(class_names=list(data.class_names), name=data.name, summary=data.summary())
        return out
    if isinstance(data, (tuple, list)) and len(data) in (4, 6):
        names = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
        out = {n: np.asarray(a) for n, a in zip(names, data)}
        for split in ("train", "val", "test"):
            if f"y_{split}" in out:
                if len(out[f"x_{split}"]) != len(out[f"y_{split}"]):
                    raise ValueError(
                        f"x_{split} has {len(out[f'x_{split}'])} samples and y_{split} "
                        f"{len(out[f'y_{split}'])} labels; pass one label per sample."
                    )
                out[f"index_{split}"] = np.arange(len(out[f"y_{split}"]))
        top = max(int(np.max(out[f"y_{s}"])) for s in ("train", "val", "test") if f"y_{s}" in out)
        out.update(class_names=[str(i) for i in range(top + 1)], name="arrays", summary=None)
        return out
    raise ValueError(
        "data must be an automl_kit.datasets.Dataset or a tuple (x_train, y_train, x_val, y_val"
        f"[, x_test, y_test]); got {type(data).__name__}. Use automl_kit.datasets.from_arrays."
    )


def predict_probabilities(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of ``model`` on ``x``: a Keras model (softmax applied when it emits
    logits) or a scikit-learn-style classifier (``predict_proba``, e.g. XGBoost's)."""
    from automl_kit.utils.models import outputs_probabilities

    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(np.asarray(x).reshape(len(x), -1)), np.float64)

    scores = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(
            f"model output has shape {scores.shape}; diagnose needs (n, classes) class scores."
        )
    try:
        probabilities = outputs_probabilities(model)
    except ValueError:  # no recognisable Dense head: judge by the values
        probabilities = bool(np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1, atol=1e-3))
    if not probabilities:
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
    return scores


def model_facts(model) -> dict:
    """What the advice can be tailored to: size, dropout, L2, optimizer (for a Keras model)."""
    import keras

    if not isinstance(model, keras.Model):
        return {"name": type(model).__name__}

    layers = list(_all_layers(model))
    dropout = [float(l.rate) for l in layers if isinstance(l, keras.layers.Dropout)]
    regularised = sum(getattr(l, "kernel_regularizer", None) is not None for l in layers)
    optimizer = getattr(model, "optimizer", None)
    return {
        "name": model.name,
        "parameters": int(model.count_params()),
        "layers": len(layers),
        "dropout_rates": dropout,
        "regularised_layers": int(regularised),
        "optimizer": None if optimizer is None else type(optimizer).__name__,
    }


def _all_layers(model):
    import keras

    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def diagnose(
    model,
    data: Any,
    human_level_error: float | None = None,
    bayes_error: float | None = None,
    train_dev: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    high_human_error: float = DEFAULT_HIGH_HUMAN_ERROR,
    batch_size: int = 256,
    n_errors: int = 16,
    run_dir: str | os.PathLike | None = None,
    data_args: str | None = None,
    verbose: int = 0,
) -> Diagnosis:
    """Training, train-dev, dev and test errors of a trained classifier, decomposed (seed 002).

    ``data`` is a :class:`~automl_kit.datasets.Dataset` (or the arrays) the model was trained
    on: its validation split is the dev set. ``train_dev=(x, y)`` is data from the training
    distribution held out from training; with it the dev gap splits into variance and data
    mismatch. Per-class reports (:func:`automl_kit.utils.metrics.per_class_report`) are made
    for the dev and test sets, and the most confidently wrong dev examples are kept.
    ``run_dir`` (optional) receives ``diagnosis.json`` and ``report.html``. ``data_args``: the
    command-line flags that name this data in the advice's commands (default ``--dataset
    NAME``; for a file, e.g. ``--data table.csv --label y``).
    """
    from automl_kit.utils.metrics import per_class_report

    for name, value in (("human_level_error", human_level_error), ("bayes_error", bayes_error)):
        if value is not None and (
            isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value <= 1)
        ):
            raise ValueError(f"{name} must be an error rate in [0, 1] (e.g. 0.01), got {value!r}.")
    if train_dev is not None and (not isinstance(train_dev, (tuple, list)) or len(train_dev) != 2):
        raise ValueError("train_dev must be a pair (x, y) of held-out training-distribution data.")
    splits = as_splits(data)
    if len(splits["y_val"]) == 0:
        raise ValueError(
            "the dev (validation) split is empty; diagnose needs dev data (n_val > 0)."
        )
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "training": (splits["x_train"], splits["y_train"]),
        "dev": (splits["x_val"], splits["y_val"]),
    }
    if train_dev is not None:
        sets["train_dev"] = (np.asarray(train_dev[0]), np.asarray(train_dev[1]))
    if "y_test" in splits and len(splits["y_test"]):
        sets["test"] = (splits["x_test"], splits["y_test"])
    names = splits["class_names"]
    errors, reports, probabilities = {}, {}, {}
    for split, (x, y) in sets.items():
        raise_if_stop_requested(f"before the {split} split")  # Ctrl-C: between splits
        p = predict_probabilities(model, x, batch_size)
        if p.shape[1] < len(names):
            raise ValueError(
                f"the model scores {p.shape[1]} classes but the data has {len(names)}; "
                "diagnose the model on the data it was trained for."
            )
        report = per_class_report(np.asarray(y), p.argmax(axis=1), names)
        errors[split] = report.error
        probabilities[split] = p
        if split in ("dev", "test"):
            reports[split] = report
        if verbose:
            print(f"diagnose: {split} error {report.error:.4f} ({len(y)} samples)", flush=True)
    diagnosis = decompose_errors(
        errors["training"],
        errors["dev"],
        human_level_error=human_level_error,
        bayes_error=bayes_error,
        train_dev_error=errors.get("train_dev"),
        test_error=errors.get("test"),
        tolerance=tolerance,
        high_human_error=high_human_error,
        dataset=data_args or (splits["name"] if splits["name"] != "arrays" else "NAME"),
        kind="image" if np.asarray(splits["x_train"]).ndim >= 3 else "tabular",
    )
    diagnosis.reports = reports
    diagnosis.dataset = splits["summary"]
    diagnosis.model = model_facts(model)
    _tailor(diagnosis)
    errors_dev = confident_errors(
        probabilities["dev"], splits["y_val"], n_errors, rows=splits["index_val"]
    )
    diagnosis.error_analysis = {
        "split": "dev",
        "confident_errors": errors_dev,
        "images": np.asarray([splits["x_val"][e["position"]] for e in errors_dev]),
        "class_names": names,
    }
    if run_dir is not None:
        diagnosis.save(run_dir)
    return diagnosis


def _tailor(diagnosis: Diagnosis) -> None:
    """Say what the model already has, so that the advice reads "raise dropout", not "add"."""
    facts = diagnosis.model or {}
    for i, rec in enumerate(diagnosis.recommendations):
        note = rec.note
        if rec.action.startswith("regularisation"):
            rates = facts.get("dropout_rates") or []
            have = f"the model has Dropout({max(rates):g})" if rates else "the model has no Dropout"
            l2 = facts.get("regularised_layers", 0)
            note = f"{have} and {l2} layer(s) with a kernel regularizer; {note}".rstrip("; ")
        elif rec.action.startswith("better optimisation") and facts.get("optimizer"):
            note = f"the model was compiled with {facts['optimizer']}; {note}"
        elif rec.action.startswith("bigger network") and facts.get("parameters"):
            note = f"the model has {facts['parameters']:,} parameters"
        if note != rec.note:
            from dataclasses import replace

            diagnosis.recommendations[i] = replace(rec, note=note)
