import keras
import numpy as np
import pytest

from automl_kit.capacity import Capacity, GradMax, KeepInit, Net2Net, ZeroOutgoing, get_start
from tests.capacity.conftest import regression_data, tiny_mlp


def _trained(hidden=(12, 9)):
    x, y = regression_data()
    model = tiny_mlp(hidden=hidden, chunks=3, active=1, optimizer=keras.optimizers.Adam(0.01))
    capacity = Capacity(model)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return model, capacity, x, y


@pytest.mark.parametrize("start", [ZeroOutgoing(), Net2Net(seed=1, noise=0.0), GradMax()])
@pytest.mark.parametrize("freeze", [True, False])
def test_function_preserving_starts_keep_the_outputs(start, freeze):
    model, capacity, x, y = _trained()
    before = np.asarray(model(x))
    capacity.grow(freeze=freeze, start=start, data=(x, y))
    np.testing.assert_allclose(model(x), before, rtol=1e-4, atol=1e-5)


def test_keep_init_changes_the_function():
    model, capacity, x, y = _trained()
    before = np.asarray(model(x))
    capacity.grow(start=KeepInit())
    assert not np.allclose(model(x), before, atol=1e-4)


def test_net2net_copies_units_and_splits_outgoing_weights():
    model, capacity, x, y = _trained(hidden=(12,))
    hidden, head = model.get_layer("hidden_0"), model.get_layer("head")
    old_out = head.input_rows(0, 0, 4).copy()
    capacity.grow(freeze=False, start=Net2Net(seed=0, noise=0.0))
    new_in = [hidden.incoming(u)[0] for u in range(4, 8)]
    sources = [next(j for j in range(4) if np.allclose(hidden.incoming(j)[0], k)) for k in new_in]
    out = head.input_rows(0, 0, 8)
    for j in range(4):  # the outgoing weight of j is shared by j and its copies
        group = [j] + [4 + i for i, s in enumerate(sources) if s == j]
        np.testing.assert_allclose(out[..., group, :].sum(axis=-2), old_out[..., j, :], rtol=1e-5)


def test_gradmax_new_units_follow_the_top_singular_vectors():
    model, capacity, x, y = _trained(hidden=(12,))
    hidden = model.get_layer("hidden_0")
    capacity.grow(start=GradMax(), data=(x, y))
    new = np.stack([hidden.incoming(u)[0] for u in range(4, 8)], axis=1)  # (4 inputs, 4 units)
    gram = new.T @ new
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-4)  # orthogonal directions
    assert np.all(np.diag(gram) > 0)
    # a model step later the new units' outgoing weights have the largest gradient GradMax promised
    head = model.get_layer("head")
    np.testing.assert_array_equal(head.input_rows(0, 4, 8), 0)


def test_gradmax_needs_a_probe_and_dense_layers():
    model, capacity, *_ = _trained(hidden=(12,))
    with pytest.raises(ValueError, match="probe"):
        capacity.grow(start=GradMax())


def test_get_start_by_name_and_config():
    assert get_start({"name": "net2net", "seed": 4}).get_config() == {"seed": 4, "noise": 0.01}
    with pytest.raises(ValueError, match="choose one of"):
        get_start("nope")
    with pytest.raises(ValueError, match="noise"):
        Net2Net(noise=-1)
