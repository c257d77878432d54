"""The zoo's architectures: sizes of the published networks, any input size, `.keras` round trip."""

import random

import keras
import numpy as np
import pytest

from automl_kit.training import freezable_units
from automl_kit.zoo import build_model, list_models


@pytest.mark.parametrize(
    ("name", "low", "high", "units"),
    [
        ("resnet20", 0.26e6, 0.28e6, 22),  # He et al.: 0.27M
        ("resnet18", 11.1e6, 11.3e6, 21),  # 17 convs + 3 projections + classifier
        ("vgg19", 20.0e6, 20.6e6, 18),  # 16 convs + Xiao's one 512 FC + classifier
        ("vgg11", 9.3e6, 9.7e6, 10),
    ],
)
def test_published_sizes(name, low, high, units):
    model = build_model(name, (32, 32, 3), 10)
    assert low <= model.count_params() <= high
    assert len(freezable_units(model)) == units


def test_every_model_builds_for_small_grey_images():
    for name in list_models():
        if name in (
            "resnet50",
            "densenet121",
            "vgg19",
        ):  # same code paths, larger; built above/below
            continue
        model = build_model(name, (28, 28, 1), 7, width=0.25)
        assert model.output_shape == (None, 7)


def test_large_models_have_their_published_depth():
    assert build_model("resnet50", (32, 32, 3), 10).count_params() == pytest.approx(
        23.5e6, rel=0.01
    )
    assert build_model("densenet121", (32, 32, 3), 10).count_params() == pytest.approx(
        7.0e6, rel=0.02
    )


def test_round_trip(tmp_path):
    model = build_model("resnet20", (16, 16, 3), 4, width=0.25)
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5
    )


def test_bad_requests():
    with pytest.raises(ValueError, match="unknown model 'resnet21'.*resnet20"):
        build_model("resnet21", (32, 32, 3), 10)
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\]"):
        build_model("resnet20", (28, 28), 10)
    with pytest.raises(ValueError, match="width"):
        build_model("vgg11", (32, 32, 3), 10, width=0)


def test_every_batch_norm_the_toolkit_builds_uses_the_zoo_momentum():
    from automl_kit.search.spaces import CNNSpace, DenseSpace, StageSpace
    from automl_kit.zoo import BATCH_NORM_MOMENTUM

    zoo = ("textbook_cnn", "resnet20", "vgg11", "densenet40")
    models = [build_model(name, (32, 32, 3), 4, width=0.25) for name in zoo]
    for space, shape in (
        (StageSpace(), (32, 32, 3)),
        (CNNSpace(), (32, 32, 3)),
        (DenseSpace(), (12,)),
    ):
        for seed in range(4):  # BatchNorm is a searched gene: several genomes
            models.append(space.build(space.random_genes(2, random.Random(seed)), shape, 4))
    momenta = [
        layer.momentum
        for model in models
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert momenta and set(momenta) == {BATCH_NORM_MOMENTUM}


def test_a_short_schedule_evaluates_as_well_as_it_trains():
    """Keras's default momentum (0.99) leaves the moving statistics near their start after
    ~100 steps: the same net then scored near chance in inference mode (benchmarks/README.md)."""
    from automl_kit import datasets
    from automl_kit.training import Recipe

    data = datasets.load("digits", n_train=800, n_val=200, seed=0)
    keras.utils.set_random_seed(0)
    model = build_model("textbook_cnn", data.input_shape, data.num_classes, width=0.5)
    history = Recipe(keep="last").fit(
        model, data.x_train, data.y_train, validation_data=data.validation_data, epochs=3
    )
    assert history.history["accuracy"][-1] > 0.8
    assert history.history["val_accuracy"][-1] > 0.8
