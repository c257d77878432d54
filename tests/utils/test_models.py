"""Classifier anatomy on Sequential, functional, zoo and headless models."""

import keras
import numpy as np
import pytest

from automl_kit.utils.models import (
    classification_head,
    logits_model,
    outputs_probabilities,
    penultimate_model,
    replace_head,
)

X = np.random.default_rng(0).normal(size=(6, 8)).astype("float32")


def sequential_softmax():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(5, activation="relu", name="hidden"),
            keras.layers.Dense(4, activation="softmax", name="scores"),
        ]
    )


def functional_softmax_layer():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    x = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    x = keras.layers.Dense(4, name="scores")(x)
    outputs = keras.layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("build", [sequential_softmax, functional_softmax_layer])
def test_head_features_and_logits(build):
    model = build()
    head = classification_head(model)
    assert head is model.get_layer("scores")  # found by structure, whatever its name
    assert outputs_probabilities(model)
    features = penultimate_model(model)(X)
    np.testing.assert_allclose(features, model.get_layer("hidden")(X), rtol=1e-6)
    logits = np.asarray(logits_model(model)(X))
    np.testing.assert_allclose(keras.ops.softmax(logits), model(X), rtol=1e-5, atol=1e-6)
    assert not np.allclose(logits, model(X))  # logits, not the probabilities again
    # the helpers share weights with the model: a change to the head shows in the logits
    head.bias.assign(head.bias + 1.0)
    np.testing.assert_allclose(logits_model(model)(X), logits + 1.0, rtol=1e-5, atol=1e-5)


def test_logits_output_is_not_probabilities():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs))
    assert not outputs_probabilities(model)
    assert logits_model(model).output is model.output
    sigmoid = keras.Model(inputs, keras.layers.Activation("sigmoid")(model.output))
    assert outputs_probabilities(sigmoid) and classification_head(sigmoid).name == "logits"


def test_zoo_model_head_and_replacement():
    from automl_kit.zoo import build_model

    keras.utils.set_random_seed(0)
    model = build_model("resnet20", (8, 8, 1), 10, width=0.25)
    head = classification_head(model)
    assert isinstance(head, keras.layers.Dense) and head.units == 10
    assert outputs_probabilities(model)
    images = np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")
    features = penultimate_model(model)(images)
    assert features.shape == (2, head.kernel.shape[0])

    new = replace_head(model, lambda x: keras.layers.Dense(3, activation="softmax", name="new")(x))
    assert new.output_shape == (None, 3)
    assert classification_head(new).name == "new"
    assert head not in new.layers
    body = model.layers[1]
    assert new.get_layer(body.name) is body  # the body is shared, not copied
    np.testing.assert_allclose(penultimate_model(new)(images), features, rtol=1e-6)


def test_models_without_a_dense_head_are_refused():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(10, 3)(inputs)
    conv = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    with pytest.raises(ValueError, match="no Dense classification head.*GlobalAveragePooling2D"):
        classification_head(conv)
    plain = keras.Model(inputs, keras.layers.Activation("softmax")(inputs))
    with pytest.raises(ValueError, match="model input"):
        outputs_probabilities(plain)
    two = keras.Model(inputs, [keras.layers.Flatten()(inputs), keras.layers.Flatten()(inputs)])
    with pytest.raises(ValueError, match="2 outputs"):
        classification_head(two)
    with pytest.raises(ValueError, match="KerasTensor"):
        replace_head(sequential_softmax(), lambda x: None)
