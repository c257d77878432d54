import math

import keras
import numpy as np
import pytest

from automl_kit.training.optimizers import (
    ACTIVATIONS,
    OPTIMIZERS,
    InverseSqrtDecay,
    activation,
    optimizer,
    schedule,
)


def rates(sched, epochs, steps_per_epoch):
    return [float(sched(e * steps_per_epoch)) for e in epochs]


def test_inverse_time_is_the_decks_formula():
    s = schedule("inverse_time", 0.2, decay_rate=0.5, steps_per_epoch=7)
    assert isinstance(s, keras.optimizers.schedules.InverseTimeDecay)
    epochs = range(6)
    np.testing.assert_allclose(
        rates(s, epochs, 7), [0.2 / (1 + 0.5 * e) for e in epochs], rtol=1e-6
    )


def test_exponential_is_the_decks_formula():
    s = schedule("exponential", 0.1, decay_rate=0.3, steps_per_epoch=5)
    assert isinstance(s, keras.optimizers.schedules.ExponentialDecay)
    epochs = range(6)
    np.testing.assert_allclose(
        rates(s, epochs, 5), [0.1 * math.exp(-0.3 * e) for e in epochs], rtol=1e-5
    )


def test_inverse_sqrt_counts_epochs_from_one_and_serialises():
    s = schedule("inverse_sqrt", 0.1, k=2.0, steps_per_epoch=4)
    np.testing.assert_allclose(
        rates(s, range(4), 4), [0.2 / math.sqrt(e + 1) for e in range(4)], rtol=1e-6
    )
    assert float(s(3)) == pytest.approx(0.2)  # constant within the first epoch
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert isinstance(again, InverseSqrtDecay) and again.get_config() == s.get_config()


def test_staircase_halves_every_n_epochs():
    s = schedule("staircase", 0.08, every=2, factor=0.5, steps_per_epoch=3)
    assert rates(s, range(6), 3) == pytest.approx([0.08, 0.08, 0.04, 0.04, 0.02, 0.02])
    assert float(s(3 * 2 - 1)) == pytest.approx(0.08)  # no decay before the step


def test_schedule_drives_a_real_optimizer():
    opt = optimizer("sgd", schedule("inverse_time", 0.1, decay_rate=1.0, steps_per_epoch=1))
    var = keras.Variable(1.0)
    for _ in range(3):
        opt.apply_gradients([(keras.ops.convert_to_tensor(0.0), var)])
    assert float(opt.learning_rate) == pytest.approx(0.1 / 4)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_by_name(name):
    opt = optimizer(name, 0.01)
    assert float(opt.learning_rate) == pytest.approx(0.01)
    assert type(opt).__name__.lower() in {name, "sgd"}


def test_sgd_has_momentum_and_overrides_pass_through():
    assert optimizer("sgd").momentum == 0.9
    assert optimizer("SGD", momentum=0.99).momentum == 0.99
    assert optimizer("nesterov").nesterov


def test_activations_by_name():
    for name in ACTIVATIONS:
        assert callable(activation(name))
    x = keras.ops.convert_to_tensor([-1.0, 1.0])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(activation("elu")(x)), [math.exp(-1) - 1, 1.0], rtol=1e-6
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: optimizer("adamw2"), "unknown optimizer 'adamw2'; choose one of: sgd"),
        (lambda: optimizer("adam", -1.0), "learning_rate"),
        (lambda: schedule("cosine", 0.1), "unknown schedule 'cosine'"),
        (lambda: schedule("exponential", 0.1, decay_rate=0), "decay_rate"),
        (lambda: schedule("staircase", 0.1, factor=2), "factor"),
        (lambda: schedule("inverse_time", 0.1, steps_per_epoch=0), "steps_per_epoch"),
        (lambda: activation("relu6x"), "unknown activation"),
    ],
)
def test_bad_names_and_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_tf_free_names_are_exactly_the_ones_built():
    from automl_kit.registries import ACTIVATION_NAMES, OPTIMIZER_NAMES, SCHEDULE_NAMES
    from automl_kit.training import optimizers

    assert set(OPTIMIZER_NAMES) == set(optimizers._OPTIMIZERS)
    for name in SCHEDULE_NAMES:  # each builds
        optimizers.schedule(name, 0.1, steps_per_epoch=3)
    for name in ACTIVATION_NAMES:
        assert callable(activation(name))
