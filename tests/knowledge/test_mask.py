"""Knowledge masks (Eq. 4.2, 4.3): k kept incl. the target, target never dropped, fresh draws."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from automl_kit.knowledge import KnowledgeMask, masked_training_model

RNG = np.random.default_rng(0)
DISTANCES = RNG.random((64, 10)).astype("float32")
LABELS = RNG.integers(0, 10, 64)
PROBABILITIES = keras.ops.convert_to_numpy(keras.ops.softmax(RNG.normal(size=(64, 10)))).astype(
    "float32"
)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_deterministic_mask_keeps_exactly_k_nearest_classes_including_the_target(k):
    mask = np.asarray(KnowledgeMask("deterministic", k=k).knowledge_mask(DISTANCES, LABELS))
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(mask.sum(axis=1), k)
    assert np.all(mask[np.arange(64), LABELS] == 1)
    for row, label, kept in zip(DISTANCES, LABELS, mask):
        others = np.argsort(np.where(np.arange(10) == label, np.inf, row))[: k - 1]
        assert set(np.flatnonzero(kept)) == {label, *others}


def test_stochastic_mask_never_drops_the_target_and_follows_eq_4_3():
    layer = KnowledgeMask("stochastic", lam=1.0, seed=0)
    draws = np.stack([np.asarray(layer.knowledge_mask(DISTANCES, LABELS)) for _ in range(300)])
    assert np.all(draws[:, np.arange(64), LABELS] == 1)
    # exclusion frequency = lam * d_i / max(d) off the target (300 draws: +-0.1 is > 3 sigma)
    expected = DISTANCES / DISTANCES.max(axis=1, keepdims=True)
    expected[np.arange(64), LABELS] = 0
    np.testing.assert_allclose(1 - draws.mean(axis=0), expected, atol=0.1)
    # resampled at each step
    assert not np.array_equal(draws[0], draws[1])
    # lam = 0 excludes nothing
    none = KnowledgeMask("stochastic", lam=0.0, seed=0).knowledge_mask(DISTANCES, LABELS)
    np.testing.assert_array_equal(none, 1)


def test_masked_output_is_renormalised_in_training_and_untouched_at_inference():
    layer = KnowledgeMask("deterministic", k=3)
    trained = np.asarray(layer([PROBABILITIES, DISTANCES, LABELS], training=True))
    mask = np.asarray(layer.knowledge_mask(DISTANCES, LABELS))
    expected = PROBABILITIES * mask / (PROBABILITIES * mask).sum(1, keepdims=True)  # Eq. 4.2
    np.testing.assert_allclose(trained, expected, rtol=1e-5)
    np.testing.assert_allclose(trained.sum(1), 1, rtol=1e-5)
    inference = np.asarray(layer([PROBABILITIES, DISTANCES, LABELS], training=False))
    np.testing.assert_array_equal(inference, PROBABILITIES)
    one_hot = np.eye(10, dtype="float32")[LABELS]
    np.testing.assert_allclose(layer([PROBABILITIES, DISTANCES, one_hot], training=True), trained)


def test_same_seed_same_masks():
    def draws(seed):
        layer = KnowledgeMask("stochastic", lam=0.9, seed=seed)
        return [np.asarray(layer.knowledge_mask(DISTANCES, LABELS)) for _ in range(3)]

    for a, b in zip(draws(4), draws(4)):
        np.testing.assert_array_equal(a, b)


def test_masked_training_model_fits_and_saves(classifier, xy, tmp_path):
    x, y = xy
    distances = np.random.default_rng(1).random((len(x), 4)).astype("float32")
    trainer = masked_training_model(classifier, KnowledgeMask("stochastic", lam=0.9, seed=1))
    trainer.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    history = trainer.fit([x, distances, y], y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # at inference the training model is the classifier
    np.testing.assert_allclose(
        trainer.predict([x, distances, y], verbose=0), classifier.predict(x, verbose=0), atol=1e-6
    )
    trainer.save(tmp_path / "masked.keras")
    reloaded = keras.models.load_model(tmp_path / "masked.keras")
    assert reloaded.layers[-1].get_config()["lam"] == 0.9


def test_mask_rejects_bad_settings():
    with pytest.raises(ValueError, match="pass k as an integer"):
        KnowledgeMask("deterministic")
    with pytest.raises(ValueError, match="lam in"):
        KnowledgeMask("stochastic", lam=1.5)
    with pytest.raises(ValueError, match="unknown mask mode"):
        KnowledgeMask("random", k=2)
    with pytest.raises(ValueError, match="lam does not apply to the deterministic mask"):
        KnowledgeMask("deterministic", k=2, lam=0.5)
    with pytest.raises(ValueError, match="exceeds the 10 classes"):
        KnowledgeMask("deterministic", k=11).knowledge_mask(DISTANCES, LABELS)


def test_training_model_masks_only_when_training(classifier, xy):
    x, y = xy
    distances = np.random.default_rng(2).random((len(x), 4)).astype("float32")
    trainer = masked_training_model(classifier, KnowledgeMask("deterministic", k=1))
    # k = 1 keeps the target alone: the training output is the one-hot label
    np.testing.assert_allclose(trainer([x, distances, y], training=True), np.eye(4)[y], atol=1e-6)
    np.testing.assert_allclose(
        trainer([x, distances, y], training=False), classifier(x, training=False), atol=1e-6
    )


def test_out_of_range_labels_are_refused():
    mask = KnowledgeMask("deterministic", k=2)
    probabilities = np.full((2, 4), 0.25, "float32")
    distances = np.random.default_rng(0).random((2, 4)).astype("float32")
    with pytest.raises(ValueError, match=r"labels outside 0..3 \(found 1..12\)"):
        mask([probabilities, distances, np.array([1, 12])], training=True)
    with pytest.raises(ValueError, match="outside 0..3"):
        KnowledgeMask("stochastic", lam=0.5).knowledge_mask(distances, np.array([-1, 0]))
