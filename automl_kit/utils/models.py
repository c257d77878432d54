"""Classifier anatomy: find and replace the head, penultimate features, logits vs. probabilities.

The head is found structurally, never by name: the ``Dense`` layer whose output reaches the
model's (single) output through only activation-like layers (``Activation``, ``Softmax``,
``Identity``). Works for functional and ``Sequential`` models built on an ``Input``; a model
without such a head gets a ``ValueError`` saying what was found instead.

>>> import keras
>>> inputs = keras.Input((4,))
>>> hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
>>> model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(hidden))
>>> classification_head(model).name, outputs_probabilities(model)
('out', True)
>>> penultimate_model(model).output_shape, logits_model(model).output_shape
((None, 8), (None, 3))
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from automl_kit._compat import producing_layer

# layers that may sit between the head and the output without changing what the head is
_PASSTHROUGH = (keras.layers.Activation, keras.layers.Softmax, keras.layers.Identity)
_PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


def _output_tensor(model: keras.Model):
    outputs = getattr(model, "outputs", None)
    if not outputs:
        raise ValueError(
            f"model {model.name!r} has no symbolic outputs (a subclassed or unbuilt model); "
            "build it as a functional or Sequential model on a keras.Input."
        )
    if len(outputs) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(outputs)} outputs; a classification head is defined "
            "for single-output models only."
        )
    return outputs[0]


def _inputs(model: keras.Model):
    """The model's inputs in the structure it was built with (one tensor or a list)."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _head_and_tail(model: keras.Model) -> tuple[keras.layers.Dense, list[keras.layers.Layer]]:
    """The head and the activation-like layers after it (output-most last)."""
    tensor, tail = _output_tensor(model), []
    layer = producing_layer(tensor)
    while isinstance(layer, _PASSTHROUGH):
        tail.insert(0, layer)
        layer = producing_layer(layer.input)
    if not isinstance(layer, keras.layers.Dense):
        found = "the model input" if layer is None else f"{type(layer).__name__} {layer.name!r}"
        raise ValueError(
            f"model {model.name!r} has no Dense classification head: its output comes from "
            f"{found}. End the model with keras.layers.Dense(num_classes, ...) (optionally "
            "followed by a Softmax or Activation layer)."
        )
    return layer, tail


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return "linear"
    name = keras.activations.serialize(activation)
    return name if isinstance(name, str) else str(getattr(activation, "__name__", name))


def classification_head(model: keras.Model) -> keras.layers.Dense:
    """The Dense layer that produces the model's class scores (found structurally)."""
    return _head_and_tail(model)[0]


def outputs_probabilities(model: keras.Model) -> bool:
    """True when the output is softmax/sigmoid probabilities, False for logits.

    Looks at the head's activation and at any ``Softmax`` / ``Activation`` layer after it.
    """
    head, tail = _head_and_tail(model)
    for layer in [head, *tail]:
        if isinstance(layer, keras.layers.Softmax):
            return True
        if _activation_name(layer) in _PROBABILITY_ACTIVATIONS:
            return True
    return False


def penultimate_model(model: keras.Model) -> keras.Model:
    """``inputs -> the head's input features``, sharing layers (and weights) with ``model``."""
    head = classification_head(model)
    return keras.Model(_inputs(model), head.input, name=f"{model.name}_features")


class HeadLogits(keras.layers.Layer):
    """The pre-activation output ``x @ kernel + bias`` of a Dense ``head``, sharing its weights."""

    def __init__(self, head: keras.layers.Dense, **kwargs):
        super().__init__(**kwargs)
        self.head = head

    def call(self, inputs):
        logits = keras.ops.matmul(inputs, self.head.kernel)
        return logits + self.head.bias if self.head.use_bias else logits

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.head.units)


def logits_model(model: keras.Model) -> keras.Model:
    """``inputs -> pre-activation class scores`` (the logits), sharing weights with ``model``.

    A head with a linear activation already gives logits; one with a built-in activation is
    recomputed without it by :class:`HeadLogits`, which reads the same kernel and bias.
    """
    head = classification_head(model)
    if _activation_name(head) == "linear":
        return keras.Model(_inputs(model), head.output, name=f"{model.name}_logits")
    logits = HeadLogits(head, name=f"{head.name}_logits")(head.input)
    return keras.Model(_inputs(model), logits, name=f"{model.name}_logits")


def replace_head(
    model: keras.Model, build_head: Callable[[keras.KerasTensor], keras.KerasTensor]
) -> keras.Model:
    """A new model: ``model``'s layers up to the head's input, then ``build_head(features)``.

    The body's layers (and weights) are shared with ``model``, not copied; the old head and any
    activation after it are dropped.

    >>> body = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(3)])
    >>> new = replace_head(body, lambda x: keras.layers.Dense(5, activation="softmax")(x))
    >>> new.output_shape, new.layers[1] is body.layers[0]
    ((None, 5), True)
    """
    features = classification_head(model).input
    outputs = build_head(features)
    if not isinstance(outputs, keras.KerasTensor):
        raise ValueError(
            "build_head must return the symbolic output of new layers applied to its argument "
            f"(a KerasTensor), got {type(outputs).__name__}."
        )
    return keras.Model(_inputs(model), outputs, name=model.name)


def load_model_file(path, *, option: str = "model") -> keras.Model:
    """A Keras model from a ``.keras`` file, or a ``ValueError`` saying what the file is not.

    ``option`` names the argument in the message (``--model`` on the command line). A missing
    file, a zip that is not a Keras model and a file that is not a zip at all each get one line
    naming the file and the fix, never a library's traceback.

    >>> load_model_file("missing.keras", option="--model")
    Traceback (most recent call last):
    ...
    ValueError: --model missing.keras: no such file; pass the path of a model saved with model.save('m.keras').
    """
    from pathlib import Path

    path = Path(path).expanduser()
    fix = "pass the path of a model saved with model.save('m.keras')"
    if not path.is_file():
        raise ValueError(f"{option} {path}: no such file; {fix}.")
    if path.suffix != ".keras":
        raise ValueError(f"{option} {path} is not a .keras file; {fix}.")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # a damaged or foreign file: which, and why, in one line
        reason = str(exc).strip().rstrip(".") or type(exc).__name__
        raise ValueError(
            f"{option} {path} is not a loadable Keras model ({type(exc).__name__}: {reason}); "
            f"{fix}."
        ) from None


def check_model_fits_data(
    model: keras.Model, input_shape, n_classes: int, *, option: str = "model"
) -> None:
    """Raise ``ValueError`` unless ``model`` takes samples of ``input_shape`` and scores
    ``n_classes`` classes, naming both sides (model and data) of a mismatch.

    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="softmax")])
    >>> check_model_fits_data(m, (4,), 3, option="--model")
    Traceback (most recent call last):
    ...
    ValueError: --model has 5 outputs but the data has 3 classes; pass the model trained on this data (or the data it was trained on).
    """
    expected = tuple(model.input_shape[1:])
    if tuple(input_shape) != expected:
        raise ValueError(
            f"{option} takes inputs of shape {expected} but the data has samples of shape "
            f"{tuple(input_shape)}; pass the data set the model was trained on."
        )
    outputs = int(_output_tensor(model).shape[-1])
    if outputs != n_classes:
        raise ValueError(
            f"{option} has {outputs} outputs but the data has {n_classes} classes; pass the "
            "model trained on this data (or the data it was trained on)."
        )
