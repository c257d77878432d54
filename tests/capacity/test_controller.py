import json

import keras
import numpy as np
import pytest

from automl_kit.capacity import Capacity, GrowthController
from tests.capacity.conftest import regression_data, tiny_mlp


def _controller(**kwargs):
    model = tiny_mlp(hidden=(12,), chunks=3, active=1)
    controller = GrowthController(**{"patience": 3, "smoothing": 0.0, **kwargs})
    controller.attach(model)
    return model, controller


def test_grows_on_a_plateau_and_not_before():
    model, controller = _controller()
    events = [controller.update(1.0 / (1 + i)) for i in range(30)]  # improving: no growth
    assert not any(events)
    events = [controller.update(0.5) for _ in range(3)]  # flat for `patience` checks
    assert events == [None, None, "grow"]
    hidden = model.get_layer("hidden_0")
    assert (hidden.active, hidden.frozen) == (2, 1)
    grown = [row for row in controller.schedule if row["event"] == "grow"]
    assert [row["step"] for row in grown] == [33]
    assert grown[0]["layers"]["hidden_0"] == {"active": 8, "frozen": 4}
    assert controller.schedule[0]["layers"]["hidden_0"] == {"active": 4, "frozen": 0}


def test_every_grows_on_a_fixed_schedule_whatever_the_loss():
    model, controller = _controller(every=5)
    events = [controller.update(1.0 / (1 + i)) for i in range(12)]  # always improving
    assert [i + 1 for i, e in enumerate(events) if e] == [5, 10]
    assert model.get_layer("hidden_0").active == 3
    with pytest.raises(ValueError, match="every is a number of batches"):
        GrowthController(every=0)


def test_interval_averages_batches_into_one_check():
    _, controller = _controller(interval=5)
    events = [controller.update(1.0) for _ in range(5 * 3)]
    assert events.count("grow") == 0  # the first check sets the best; two flat checks since
    events = [controller.update(1.0) for _ in range(5)]
    assert events[-1] == "grow" and events.count("grow") == 1


def test_every_growth_logged_until_full_then_unfreeze_once():
    model, controller = _controller(unfreeze=True)
    events = [controller.update(1.0) for _ in range(40)]
    assert events.count("grow") == 2 and events.count("unfreeze") == 1
    hidden = model.get_layer("hidden_0")
    assert (hidden.active, hidden.frozen) == (3, 0)
    assert [row["event"] for row in controller.schedule] == ["start", "grow", "grow", "unfreeze"]
    assert controller.summary()["growths"] == 2


def test_grow_without_freezing_keeps_everything_trainable():
    model, controller = _controller(freeze=False)
    for _ in range(8):
        controller.update(1.0)
    hidden = model.get_layer("hidden_0")
    assert hidden.active == 3 and hidden.frozen == 0


def test_per_layer_grows_the_layer_with_the_widest_activation_spread():
    x, y = regression_data(32)
    model = tiny_mlp(hidden=(12, 12), chunks=3, active=1)
    h1 = model.get_layer("hidden_1")
    for variable in h1.kernels:  # hidden_1 responds ten times as strongly
        variable.assign(variable.numpy() * 10)
    controller = GrowthController(patience=1, smoothing=0.0, per_layer=True, probe=(x, y))
    controller.attach(model)
    spreads = controller.activation_spread()
    assert spreads["hidden_1"] > spreads["hidden_0"]
    controller.update(1.0)
    assert controller.update(1.0) == "grow"
    assert (model.get_layer("hidden_0").active, h1.active) == (1, 2)


def test_callback_in_fit_grows_and_writes_the_schedule(tmp_path):
    x, y = np.ones((64, 4), "float32"), np.zeros((64, 1), "float32")
    model = tiny_mlp(hidden=(12,), chunks=3, active=1, optimizer=keras.optimizers.SGD(0.0))
    # identical batches and a zero learning rate: the loss cannot improve, so it grows after
    # the first check of each width and `patience` flat ones
    controller = GrowthController(patience=2, smoothing=0.0, min_delta=1e-5, start="keep_init")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[controller])
    assert [row["step"] for row in controller.schedule] == [0, 3, 6]
    assert len(controller.losses) == 8
    paths = controller.save(tmp_path)
    assert [p.parent for p in paths] == [tmp_path, tmp_path]
    text = paths[0].read_text().splitlines()
    assert text[0] == "step,event,layer,active_units,frozen_units"
    assert "6,grow,hidden_0,12,8" in text
    assert json.loads(paths[1].read_text())["growths"] == 2
    assert controller.plot(tmp_path / "schedule.png").stat().st_size > 1000


def test_batch_losses_from_fit_equal_the_batch_losses():
    x, y = regression_data(64)
    model = tiny_mlp(hidden=(12,), chunks=3, active=1, optimizer=keras.optimizers.SGD(0.0))
    expected = [
        float(np.mean((np.asarray(model(x[i : i + 16])) - y[i : i + 16]) ** 2))
        for i in range(0, 64, 16)
    ]
    controller = GrowthController(patience=100)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[controller])
    np.testing.assert_allclose(controller.losses, expected, rtol=1e-5)


def test_config_round_trip_and_bad_arguments():
    controller = GrowthController(patience=4, step=2, freeze=False, start="net2net", interval=3)
    rebuilt = GrowthController.from_config(json.loads(json.dumps(controller.get_config())))
    assert rebuilt.get_config() == controller.get_config()
    assert rebuilt.start.name == "net2net"
    for kwargs, fragment in [
        ({"patience": 0}, "patience"),
        ({"step": 0}, "growth step"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"start": "magic"}, "unknown growth start"),
        ({"interval": 0}, "interval"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            GrowthController(**kwargs)
    with pytest.raises(ValueError, match="attach"):
        GrowthController().update(1.0)
    for kwargs in ({"start": "gradmax"}, {"per_layer": True}):  # the probe is data, given later
        with pytest.raises(ValueError, match="probe"):
            GrowthController(**kwargs).attach(tiny_mlp())


def test_capacity_needs_partial_layers_and_a_compiled_model():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    plain.compile("sgd", "mse")
    with pytest.raises(ValueError, match="no PartialDense"):
        Capacity(plain)
    with pytest.raises(ValueError, match="compile"):
        Capacity(tiny_mlp().__class__.from_config(tiny_mlp().get_config()))
