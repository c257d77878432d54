import numpy as np
import pytest

from automl_kit.tweak import SynapticTables, extract_tables
from automl_kit.utils.models import logits_model


def test_chunked_on_disk_equals_in_memory(small_model, tmp_path):
    model, (x, y), _ = small_model
    x, y = x[:150], y[:150]
    mem = extract_tables(model, x, y, layers=["relu", "hidden"], batch_size=64, chunk_size=10_000)
    disk = extract_tables(
        model,
        x,
        y,
        layers=["relu", "hidden"],
        batch_size=37,
        chunk_size=50,
        directory=tmp_path / "t",
    )
    assert mem.n_neurons == 6 * 6 * 4 + 16 == disk.n_neurons
    assert disk.chunk_sizes == [50, 50, 50, 10] and len(mem.chunk_sizes) == 1
    assert all(isinstance(c, np.memmap) for c in disk.iter_chunks())
    np.testing.assert_allclose(
        np.concatenate(list(disk.iter_chunks())),
        np.concatenate(list(mem.iter_chunks())),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_array_equal(disk.labels, y)
    # C are the logits; MaxL/MaxV follow from them
    np.testing.assert_allclose(
        disk.C.T, logits_model(model).predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_array_equal(disk.predicted, model.predict(x, verbose=0).argmax(1))
    np.testing.assert_allclose(disk.max_values, disk.C.max(0))
    np.testing.assert_allclose(disk.neuron_absmax, mem.neuron_absmax, rtol=1e-5)
    reopened = SynapticTables.load(tmp_path / "t")
    np.testing.assert_array_equal(
        reopened.rows([0, 55, 159]), np.concatenate(list(disk.iter_chunks()))[[0, 55, 159]]
    )
    assert reopened.neuron(150) == ("hidden", 6)
    reopened.check_model(model)


def test_default_layer_is_the_head_input(small_model):
    model, (x, y), _ = small_model
    t = extract_tables(model, x[:10], y[:10])
    assert t.layers == [("hidden", 16)]


def test_errors(small_model, tmp_path):
    model, (x, y), _ = small_model
    with pytest.raises(ValueError, match="unknown layer 'nope'.*choose among"):
        extract_tables(model, x[:10], y[:10], layers=["nope"])
    with pytest.raises(ValueError, match="outside"):
        extract_tables(model, x[:10], y[:10] + 4)
    with pytest.raises(ValueError, match="one integer label per sample"):
        extract_tables(model, x[:10], y[:9])
    t = extract_tables(model, x[:10], y[:10], layers=["hidden"])
    t.layers = [("hidden", 17)]
    with pytest.raises(ValueError, match="another model"):
        t.check_model(model)
    with pytest.raises(ValueError, match="holds no tables.json"):
        SynapticTables.load(tmp_path)
    extract_tables(model, x[:10], y[:10], directory=tmp_path / "a")
    with pytest.raises(ValueError, match="overwrite=True"):
        extract_tables(model, x[:10], y[:10], directory=tmp_path / "a")
