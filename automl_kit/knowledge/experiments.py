"""Two-stage training for PK-GCN and its controls, one protocol for all (Xiao, Part 4.5.2).

Stage 1 trains the base model; its validation mistakes give the class graph. Stage 2 continues
for ``stage2_epochs`` with a fresh optimizer of the same kind, under one of the *heads*:

* ``"none"``: the base model as it is (the thesis's baseline: same total epochs, same optimizer);
* ``"pkgcn1"`` / ``"pkgcn2"``: the class-graph head (Eq. 4.4 / 4.5);
* ``"dense_control"``: a capacity-matched control, ``Dense(m, relu)`` + a new ``Dense(K)`` with
  about as many parameters as the PK-GCN head (``control_match``), so that a gain can be told
  apart from extra parameters or a second stage;
* ``"label_smoothing"``: the base model with label smoothing (``smoothing``) in stage 2, a
  rival regulariser that also spreads probability over other classes;
* ``"pkgcn1_smoothed"`` / ``"pkgcn2_smoothed"``: the class-graph head trained with label
  smoothing, to tell whether the graph adds anything on top of the simpler rival;
* ``"self_distillation"``: the base model trained on a mix of the labels and its own stage-1
  predictions (weight ``DISTILL_WEIGHT``, softened at temperature ``DISTILL_TEMPERATURE``), the
  rival that also uses the model's own class similarities, without a graph.

Every head also gets a validation accuracy, and the result's ``"winner"`` is the head to keep
(:func:`choose_head`): label smoothing, the rival that won every earlier benchmark, unless
another head beats it on validation by more than a standard error.
The optimizer is the thesis's by name, or ``"recipe"``: the shared
:class:`~automl_kit.training.Recipe`'s optimizer and warm-up + cosine schedule over each stage.

:func:`compare_two_stage` trains stage 1 once and gives every head the same trained copy, so
per-seed differences between heads are paired.

>>> import numpy as np
>>> from automl_kit.knowledge.builders import base_cnn
>>> rng = np.random.default_rng(0)
>>> data = {k: rng.random((20, 8, 8, 1), "float32") for k in ("x_train", "x_val", "x_test")}
>>> data.update({k: np.arange(20) % 3 for k in ("y_train", "y_val", "y_test")})
>>> result = train_two_stage(base_cnn((8, 8, 1), 3), data, head="pkgcn1", stage1_epochs=1,
...                          stage2_epochs=1, seed=0)                      # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automl_kit.registries import TWO_STAGE_OPTIMIZER_NAMES
from automl_kit.utils.validation import check_labels

HEADS = (
    "none",
    "pkgcn1",
    "pkgcn2",
    "dense_control",
    "label_smoothing",
    "pkgcn1_smoothed",
    "pkgcn2_smoothed",
    "self_distillation",
)
OPTIMIZERS = TWO_STAGE_OPTIMIZER_NAMES
DISTILL_WEIGHT = 0.5  # share of the stage-1 model's softened predictions in the targets
DISTILL_TEMPERATURE = 4.0
SMOOTHED_HEADS = ("label_smoothing", "pkgcn1_smoothed", "pkgcn2_smoothed")
_SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
# the name a head is shown under in tables and progress lines ("none" = the base CNN trained on)
METHOD_NAMES = {"none": "original_cnn"}


def method_name(head: str) -> str:
    """The display name of ``head`` (``"none"`` is the original CNN trained on)."""
    return METHOD_NAMES.get(head, head)


def default_control_match(heads: Sequence[str]) -> str:
    """The PK-GCN variant the dense control is matched to: the one run (PK-GCN-1 if both are)."""
    return "pkgcn2" if "pkgcn2" in heads and "pkgcn1" not in heads else "pkgcn1"


def _progress(label: str, epochs: int):
    """A callback printing one line per epoch (loss, accuracy, seconds)."""
    import keras

    started = [0.0]

    def on_epoch_begin(epoch, logs=None):
        started[0] = time.perf_counter()

    def on_epoch_end(epoch, logs=None):
        logs = logs or {}
        print(
            f"pkgcn: {label} epoch {epoch + 1}/{epochs}  loss {logs.get('loss', float('nan')):.4f}  "
            f"accuracy {logs.get('accuracy', float('nan')):.4f}  "
            f"({time.perf_counter() - started[0]:.1f} s)",
            flush=True,
        )

    return keras.callbacks.LambdaCallback(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end)


# name -> (learning rate, options) of the thesis's runs: its AdaDelta is PyTorch's (lr 1.0, rho
# 0.9, eps 1e-6); Keras's own default rate (0.001) barely moves in 200 epochs
_THESIS_OPTIMIZERS = {
    "adadelta": (1.0, {"rho": 0.9, "epsilon": 1e-6}),
    "adam": (1e-3, {}),
    "sgd": (0.01, {}),
}


def make_optimizer(name: str, learning_rate: float | None = None):
    """A fresh :func:`automl_kit.training.optimizer` with the thesis's defaults for ``name``.

    >>> float(make_optimizer("adadelta").learning_rate)
    1.0
    """
    from automl_kit.training import optimizer

    if name not in _THESIS_OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    rate, options = _THESIS_OPTIMIZERS[name]
    return optimizer(name, learning_rate or rate, **options)


def _splits(data: Any) -> dict[str, np.ndarray]:
    get = data.get if isinstance(data, Mapping) else lambda key: getattr(data, key, None)
    missing = [key for key in _SPLITS if get(key) is None]
    if missing:
        raise ValueError(
            f"data lacks {', '.join(missing)}; pass a Dataset with a validation and a test split "
            "(datasets.load(name, n_train=..., n_val=...)) or a dict with x_/y_ train, val, test."
        )
    return {key: np.asarray(get(key)) for key in _SPLITS}


def _check_heads(heads: Sequence[str]) -> None:
    for head in heads:
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose one of: {', '.join(HEADS)}.")


def head_parameters(n_features: int, n_classes: int, variant: int, units_l: int | None) -> int:
    """Trainable parameters of a PK-GCN head: GCN kernel + bias, class embeddings (+ Dense q)."""
    n = n_features
    count = (2 * n) * (2 * n) + 2 * n + n_classes * n
    if variant == 2:
        l_units = units_l or n
        count += (4 * n) * (2 * l_units) + 2 * l_units
    return count


def control_width(n_features: int, n_classes: int, parameters: int) -> int:
    """``m`` such that ``Dense(m)`` + ``Dense(K)`` on ``n`` features has about ``parameters``."""
    return max(1, round((parameters - n_classes) / (n_features + 1 + n_classes)))


def _compile(
    model, optimizer: str, learning_rate: float | None, smoothing: float, total_steps: int
) -> None:
    """Cross-entropy on one-hot (or soft) targets with a fresh optimizer: the thesis's by name,
    or the recipe's with its schedule over ``total_steps`` (``learning_rate`` its peak)."""
    import keras

    if optimizer == "recipe":
        from automl_kit.training import Recipe

        recipe = Recipe() if learning_rate is None else Recipe(learning_rate=learning_rate)
        built = recipe.build_optimizer(total_steps)
    else:
        built = make_optimizer(optimizer, learning_rate)
    model.compile(
        built, keras.losses.CategoricalCrossentropy(label_smoothing=smoothing), metrics=["accuracy"]
    )


def choose_head(val_accuracy: dict[str, float], n_val: int, default: str) -> str:
    """The head to keep: ``default`` unless another head's validation accuracy is higher by
    more than one standard error of the default's, ``sqrt(p (1 - p) / n_val)`` (a validation
    set of a few hundred images cannot tell smaller differences apart); then the best one.

    >>> choose_head({"none": 0.90, "label_smoothing": 0.91, "pkgcn1": 0.92}, 300, "label_smoothing")
    'label_smoothing'
    >>> choose_head({"none": 0.90, "label_smoothing": 0.91, "pkgcn1": 0.95}, 300, "label_smoothing")
    'pkgcn1'
    """
    p = val_accuracy[default]
    margin = (p * (1 - p) / max(n_val, 1)) ** 0.5
    best = max(val_accuracy, key=val_accuracy.get)  # the first listed of equals
    return best if val_accuracy[best] > p + margin else default


def _distillation_targets(model, x: np.ndarray, one_hot: np.ndarray, batch_size: int):
    """(1 - w) * labels + w * the model's own predictions softened at temperature T."""
    p = np.clip(model.predict(x, batch_size=max(batch_size, 256), verbose=0), 1e-12, 1.0)
    soft = p ** (1.0 / DISTILL_TEMPERATURE)
    soft /= soft.sum(axis=1, keepdims=True)
    return ((1 - DISTILL_WEIGHT) * one_hot + DISTILL_WEIGHT * soft).astype("float32")


def _accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    probabilities = model.predict(x, batch_size=max(batch_size, 256), verbose=0)
    return float(np.mean(probabilities.argmax(axis=1) == y))


def _stage_two_model(
    base,
    head: str,
    graph: np.ndarray,
    *,
    direction: str,
    units_l: int | None,
    initializer: str,
    control_match: str,
):
    """The stage-2 model for ``head`` on the trained ``base`` (sharing its layers)."""
    import keras

    from automl_kit.knowledge.head import add_class_similarity_head
    from automl_kit.utils.models import classification_head, replace_head

    if head in ("none", "label_smoothing", "self_distillation"):
        return base
    if head.startswith("pkgcn"):
        variant = int(head[5])
        return add_class_similarity_head(
            base,
            graph,
            variant=variant,
            direction=direction,
            units_l=units_l if variant == 2 else None,  # PK-GCN-1 has no Dense q
            initializer=initializer,
            copy=False,  # base is already this head's own copy of the stage-1 model
        )
    old = classification_head(base)
    n, k = int(old.kernel.shape[0]), old.units
    width = control_width(n, k, head_parameters(n, k, int(control_match[-1]), units_l))

    def build(features):
        hidden = keras.layers.Dense(width, activation="relu", name="control_hidden")(features)
        return keras.layers.Dense(k, activation="softmax", name="control_classifier")(hidden)

    return replace_head(base, build)


class TwoStageResult(dict):
    """What :func:`compare_two_stage` returns: the dict described there, plus the contract's
    ``summary()`` (JSON-able, models left out) and ``save(run_dir)``."""

    def summary(self) -> dict[str, Any]:
        return {key: value for key, value in self.items() if key != "models"}

    def accuracy_rows(self) -> list[dict[str, Any]]:
        """One row per head: display name, head key, validation and test accuracy, gain in
        percentage points over ``"none"`` (when run), parameters."""
        baseline = self["heads"].get("none", {}).get("test_accuracy")
        return [
            {
                "method": method_name(head),
                "head": head,
                "val_accuracy": None
                if values.get("val_accuracy") is None
                else round(values["val_accuracy"], 6),
                "test_accuracy": round(values["test_accuracy"], 6),
                "gain_points": None
                if baseline is None
                else round(100 * (values["test_accuracy"] - baseline), 3),
                "parameters": values["parameters"],
            }
            for head, values in self["heads"].items()
        ]

    def verdict(self, head: str, rival: str = "label_smoothing") -> str:
        """One line: ``head`` against ``rival`` on validation, in points (both must have run)."""
        heads = self["heads"]
        gain = 100 * (heads[head]["val_accuracy"] - heads[rival]["val_accuracy"])
        name = rival.replace("_", " ")
        if gain > 0:
            return f"{head} beat {name} on validation by {gain:.2f} points"
        fix = "; label smoothing is one flag in any Keras loss: label_smoothing=0.1"
        return (
            f"{head} did not beat {name} on validation ({gain:+.2f} points)"
            f"{fix if rival == 'label_smoothing' else ''}"
        )

    def save(
        self,
        run_dir,
        *,
        class_names: Sequence[str] | None = None,
        models: bool = False,
        plot_threshold: float | None = None,
    ) -> Path:
        """Write ``two_stage.json`` (the summary), ``accuracy.csv``, ``graph.json``, ``graph.png``
        (Figure 4.6) and, with ``models=True``, ``model-<head>.keras``, into ``run_dir``.

        ``plot_threshold``: edges of weight ``<=`` it are left out of the picture (default 0.01
        for a soft-count graph, which is complete, else 0); ``graph.json`` keeps every edge."""
        from automl_kit.knowledge.plots import plot_class_graph
        from automl_kit.utils import run_root
        from automl_kit.utils.io import write_csv, write_json

        # a RunDirectory (its .root) or a path (whose own .root is the file system's root)
        root = run_root(run_dir)
        write_json(root / "two_stage.json", self.summary())
        write_csv(root / "accuracy.csv", self.accuracy_rows())
        soft = "soft counts" if self["settings"]["soft"] else "hard counts"
        write_json(
            root / "graph.json",
            {
                "graph": self["graph"],
                "edges": self["graph_edges"],
                "class_names": None if class_names is None else [str(c) for c in class_names],
                "meaning": "graph[i][j]: validation samples of class i predicted as class j "
                f"({soft}, {self['settings']['normalize']})",
            },
        )
        plot_class_graph(
            self["graph"],
            root / "graph.png",
            class_names=class_names,
            title=f"misclassification graph ({self['graph_edges']} edges)",
            threshold=plot_threshold
            if plot_threshold is not None
            else (0.01 if self["settings"]["soft"] else 0.0),
        )
        if models:
            for head, model in self.get("models", {}).items():
                model.save(root / f"model-{head}.keras")
        return root

    @classmethod
    def load(cls, run_dir) -> TwoStageResult:
        """The result :meth:`save` wrote (``two_stage.json``), with any ``model-<head>.keras``
        under ``"models"``."""
        import json

        import keras

        import automl_kit.knowledge  # noqa: F401  (registers ClassGraphHead for load_model)
        from automl_kit.utils import require_files

        root = require_files(
            run_dir,
            ("two_stage.json",),
            what="two-stage result",
            writers="`automl-kit pkgcn` or `TwoStageResult.save`",
        )
        path = root / "two_stage.json"
        result = cls(json.loads(path.read_text(encoding="utf-8")))
        models = {
            file.stem[len("model-") :]: keras.models.load_model(file)
            for file in sorted(root.glob("model-*.keras"))
        }
        if models:
            result["models"] = models
        return result


def compare_two_stage(
    base_model,
    data: Any,
    *,
    heads: Sequence[str] = ("none", "pkgcn1", "pkgcn2"),
    stage1_epochs: int,
    stage2_epochs: int,
    optimizer: str = "adadelta",
    learning_rate: float | None = None,
    batch_size: int = 64,
    soft: bool = False,
    normalize: str = "rate",
    direction: str = "symmetric",
    units_l: int | None = None,
    initializer: str = "glorot_uniform",
    control_match: str | None = None,
    smoothing: float = 0.1,
    label_smoothing: float = 0.0,
    seed: int = 0,
    verbose: int = 0,
    return_models: bool = False,
    run_dir=None,
) -> TwoStageResult:
    """Stage 1 once, then every head of ``heads`` from a copy of the same trained base.

    ``base_model`` is a model ending in ``Dense(K)`` or a function returning one; a function is
    called after seeding, so the same ``seed`` gives the same initial weights (a model built
    before the call has whatever weights the global RNG gave it).

    Returns ``{"stage1": {...}, "graph": K x K list, "heads": {head: {...}}, "winner": head}``
    (``winner``: :func:`choose_head` with label smoothing as the default when it ran, else the
    first head) with validation and test accuracies (and the stage-2 models under ``"models"`` with
    ``return_models=True``), saved into ``run_dir`` when given (:meth:`TwoStageResult.save`).
    ``label_smoothing`` applies to every stage of every head; ``smoothing`` is the smoothed
    heads' (``"label_smoothing"``, ``"pkgcn*_smoothed"``).
    ``control_match`` (``"pkgcn1"``/``"pkgcn2"``): the head whose parameter count
    ``"dense_control"`` matches; default: the PK-GCN variant in ``heads`` (PK-GCN-1 when both
    or neither run). ``verbose=1`` prints one line per epoch; ``verbose=2`` also Keras's own.
    """
    import keras

    from automl_kit.knowledge.graph import count_edges, misclassification_graph
    from automl_kit.training import StopAtSafePoint
    from automl_kit.utils.models import classification_head

    _check_heads(heads)
    if not isinstance(base_model, keras.Model) and not callable(base_model):
        raise ValueError(
            f"base_model must be a Keras model ending in Dense(K) or a function building one, got "
            f"{type(base_model).__name__}."
        )
    if control_match is None:
        control_match = default_control_match(heads)
    if control_match not in ("pkgcn1", "pkgcn2"):
        raise ValueError(f"control_match must be 'pkgcn1' or 'pkgcn2', got {control_match!r}.")
    if not isinstance(stage1_epochs, int) or stage1_epochs < 1:
        raise ValueError(
            f"stage1_epochs must be >= 1: the class graph comes from the stage-1 model, got "
            f"{stage1_epochs!r}."
        )
    if not isinstance(stage2_epochs, int) or stage2_epochs < 0:
        raise ValueError(f"stage2_epochs must be an integer >= 0, got {stage2_epochs!r}.")
    for name, value in (("smoothing", smoothing), ("label_smoothing", label_smoothing)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}.")
    if optimizer != "recipe":
        make_optimizer(optimizer)  # refuses an unknown name before training
    split = _splits(data)
    keras.utils.set_random_seed(seed)
    if not isinstance(base_model, keras.Model):
        base_model = base_model()  # built after seeding: the same seed, the same initial weights
    from automl_kit.knowledge.graph import _check_class_count

    n_classes = _check_class_count(classification_head(base_model).units)
    for part in ("train", "val", "test"):
        split[f"y_{part}"] = check_labels(
            split[f"y_{part}"], num_classes=n_classes, name=f"y_{part}"
        )
    one_hot = np.eye(n_classes, dtype="float32")
    started = time.perf_counter()
    steps_per_epoch = -(-len(split["y_train"]) // batch_size)
    _compile(base_model, optimizer, learning_rate, label_smoothing, stage1_epochs * steps_per_epoch)
    base_model.fit(
        split["x_train"],
        one_hot[split["y_train"]],
        batch_size=batch_size,
        epochs=stage1_epochs,
        verbose=2 if verbose >= 2 else 0,
        callbacks=[StopAtSafePoint("stage 1")]
        + ([_progress("stage 1", stage1_epochs)] if verbose == 1 else []),
    )
    stage1 = {
        "epochs": stage1_epochs,
        "seconds": time.perf_counter() - started,
        "test_accuracy": _accuracy(base_model, split["x_test"], split["y_test"], batch_size),
        "val_accuracy": _accuracy(base_model, split["x_val"], split["y_val"], batch_size),
    }
    graph = misclassification_graph(
        base_model, split["x_val"], split["y_val"], soft=soft, normalize=normalize
    )
    trained = base_model.get_weights()
    targets = one_hot[split["y_train"]]
    if "self_distillation" in heads:
        distilled = _distillation_targets(base_model, split["x_train"], targets, batch_size)
    results, models = {}, {}
    for index, head in enumerate(heads):
        # every head starts from the same stage-1 weights: a copy per head, the original last
        if index < len(heads) - 1:
            base = keras.models.clone_model(base_model)
            base.set_weights(trained)
        else:
            base = base_model
            base.set_weights(trained)
        keras.utils.set_random_seed(seed + 1)  # the same stage-2 shuffling for every head
        model = _stage_two_model(
            base,
            head,
            graph,
            direction=direction,
            units_l=units_l,
            initializer=initializer,
            control_match=control_match,
        )
        smooth = smoothing if head in SMOOTHED_HEADS else label_smoothing
        _compile(model, optimizer, learning_rate, smooth, stage2_epochs * steps_per_epoch)
        started = time.perf_counter()
        if stage2_epochs:
            model.fit(
                split["x_train"],
                distilled if head == "self_distillation" else targets,
                batch_size=batch_size,
                epochs=stage2_epochs,
                verbose=2 if verbose >= 2 else 0,
                callbacks=[StopAtSafePoint(f"stage 2 {method_name(head)}")]
                + (
                    [_progress(f"stage 2 {method_name(head)}", stage2_epochs)]
                    if verbose == 1
                    else []
                ),
            )
        results[head] = {
            "test_accuracy": _accuracy(model, split["x_test"], split["y_test"], batch_size),
            "val_accuracy": _accuracy(model, split["x_val"], split["y_val"], batch_size),
            "parameters": int(model.count_params()),
            "stage2_seconds": time.perf_counter() - started,
        }
        if verbose:
            print(
                f"pkgcn: {method_name(head):<18} validation accuracy "
                f"{results[head]['val_accuracy']:.4f}, test {results[head]['test_accuracy']:.4f}",
                flush=True,
            )
        models[head] = model
    default = "label_smoothing" if "label_smoothing" in heads else heads[0]
    val_accuracy = {head: results[head]["val_accuracy"] for head in heads}
    winner = choose_head(val_accuracy, len(split["y_val"]), default)
    out = TwoStageResult(
        {
            "stage1": stage1,
            "graph": graph.tolist(),
            "graph_edges": count_edges(graph),
            "heads": results,
            "winner": winner,
            "settings": {
                "stage1_epochs": stage1_epochs,
                "stage2_epochs": stage2_epochs,
                "optimizer": optimizer,
                "learning_rate": learning_rate,
                "batch_size": batch_size,
                "soft": soft,
                "normalize": normalize,
                "direction": direction,
                "units_l": units_l,
                "initializer": initializer,
                "label_smoothing": label_smoothing,
                "seed": seed,
            },
        }
    )
    # settings that apply only to a head that ran
    if "dense_control" in heads:
        out["settings"]["control_match"] = control_match
    if any(head in SMOOTHED_HEADS for head in heads):
        out["settings"]["smoothing"] = smoothing
    if "self_distillation" in heads:
        out["settings"]["distillation"] = {
            "weight": DISTILL_WEIGHT,
            "temperature": DISTILL_TEMPERATURE,
        }
    if return_models:
        out["models"] = models
    if run_dir is not None:
        out.save(run_dir)
    return out


def train_two_stage(
    base_model,
    data: Any,
    *,
    head: str = "pkgcn1",
    stage1_epochs: int,
    stage2_epochs: int,
    optimizer: str = "adadelta",
    soft: bool = False,
    seed: int = 0,
    **options,
) -> dict[str, Any]:
    """Stage 1 on ``base_model`` (trained in place), then stage 2 with ``head`` (Part 4.5.2).

    A flat result: ``test_accuracy``, ``stage1_test_accuracy``, ``graph``, ``graph_edges``,
    ``parameters``; ``options`` are those of :func:`compare_two_stage`.
    """
    _check_heads([head])
    result = compare_two_stage(
        base_model,
        data,
        heads=(head,),
        stage1_epochs=stage1_epochs,
        stage2_epochs=stage2_epochs,
        optimizer=optimizer,
        soft=soft,
        seed=seed,
        **options,
    )
    flat = {
        "head": head,
        **result["heads"][head],
        "stage1_test_accuracy": result["stage1"]["test_accuracy"],
        "graph": result["graph"],
        "graph_edges": result["graph_edges"],
        "settings": result["settings"],
    }
    if "models" in result:
        flat["model"] = result["models"][head]
    return flat
