import numpy as np


def test_gcnconv_trains_saves_and_reloads(tmp_path):
    import keras

    from automl_kit import GCNConv, seed_everything

    seed_everything(0)
    x_in, a_in = keras.Input((5, 8)), keras.Input((5, 5))
    h = GCNConv(4, activation="relu")([x_in, a_in])
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model([x_in, a_in], out)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((16, 5, 8), dtype=np.float32)
    a = np.tile(np.eye(5, dtype=np.float32), (16, 1, 1))
    y = rng.integers(0, 2, 16)
    before = model.get_weights()[0].copy()
    model.fit([x, a], y, epochs=2, verbose=0)
    assert not np.allclose(before, model.get_weights()[0])
    model.save(tmp_path / "gcn.keras")
    loaded = keras.models.load_model(tmp_path / "gcn.keras")
    assert type(loaded.layers[2]) is GCNConv
    np.testing.assert_allclose(
        model.predict([x, a], verbose=0), loaded.predict([x, a], verbose=0), atol=1e-6
    )


def test_producing_layer_reads_the_functional_graph():
    """Pinned to Keras 3's private ``_keras_history``: fails loudly if an upgrade renames it."""
    import keras

    from automl_kit._compat import producing_layer

    inputs = keras.Input((4,))
    dense = keras.layers.Dense(3, name="dense")
    norm = keras.layers.BatchNormalization(name="norm")
    outputs = norm(dense(inputs))
    keras.Model(inputs, outputs)
    assert hasattr(outputs, "_keras_history"), "Keras renamed KerasTensor._keras_history"
    assert producing_layer(norm.input) is dense
    assert producing_layer(outputs) is norm
    assert producing_layer(inputs) is None  # an Input has no producing layer
    assert producing_layer(object()) is None
