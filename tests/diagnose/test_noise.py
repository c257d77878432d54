import csv

import numpy as np
import pytest

from automl_kit import datasets
from automl_kit.diagnose import find_label_issues, flip_labels, out_of_fold_probabilities


@pytest.fixture(scope="module")
def digits_big():
    return datasets.load("digits", n_train=1200, n_val=100, seed=0)


def test_flip_labels_uniform_and_pairs():
    y = np.arange(1000) % 10
    noisy, mask = flip_labels(y, 0.1, seed=1)
    assert mask.sum() == 100 and (noisy[mask] != y[mask]).all() and (noisy[~mask] == y[~mask]).all()
    noisy, mask = flip_labels(y, 0.05, pairs=[(4, 9), (3, 5)], seed=1)
    assert mask.sum() == 50
    assert set(zip(y[mask].tolist(), noisy[mask].tolist())) <= {(4, 9), (9, 4), (3, 5), (5, 3)}
    with pytest.raises(ValueError, match="disjoint"):
        flip_labels(y, 0.05, pairs=[(4, 9), (9, 5)])
    with pytest.raises(ValueError, match="only 200 samples"):
        flip_labels(y, 0.5, pairs=[(4, 9)])
    with pytest.raises(ValueError, match="fraction"):
        flip_labels(y, 1.5)


@pytest.fixture(scope="module")
def noisy_digits(digits_big):
    noisy, flipped = flip_labels(digits_big.y_train, 0.1, seed=0)
    probabilities = out_of_fold_probabilities(digits_big.x_train, noisy, seed=0)
    return noisy, flipped, probabilities


def test_finds_flipped_digits(digits_big, noisy_digits, tmp_path):
    noisy, flipped, probabilities = noisy_digits
    issues = find_label_issues((digits_big.x_train, noisy), probabilities)
    scores = issues.precision_recall(flipped)
    print("digits, 10% uniform flips:", scores)
    assert scores["precision"] >= 0.5 and scores["recall"] >= 0.5
    at = issues.precision_at_recall(flipped, 0.6)
    assert at is not None and at >= scores["precision"] - 1e-9  # the top of the ranking is purer
    assert issues.precision_at_recall(flipped, 1.0) is None or scores["recall"] == 1.0
    # most suspect first: quality (probability of the given label) is ascending
    assert np.all(np.diff(issues.quality) >= 0)
    drop = issues.sample_weight("drop")
    assert drop.sum() == len(noisy) - len(issues) and set(np.unique(drop)) <= {0.0, 1.0}
    soft = issues.sample_weight("reweight", min_weight=0.05)
    assert soft[~issues.mask].min() == 1.0 and soft[issues.mask].max() < 1.0
    assert soft[issues.mask].min() >= 0.05
    path = issues.save(tmp_path)
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == len(issues) and int(rows[0]["row"]) == int(issues.rows[0])


def test_rows_come_from_dataset_index(digits_big, noisy_digits):
    from dataclasses import replace

    noisy, _, probabilities = noisy_digits
    data = replace(digits_big, y_train=noisy)
    issues = find_label_issues(data, probabilities)
    np.testing.assert_array_equal(issues.rows, digits_big.index_train[issues.positions])
    assert issues.summary()["top"][0]["given"] in digits_big.class_names


def test_keras_out_of_fold_probabilities(digits_big):
    import keras

    def build(seed):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        return model

    x, y = digits_big.x_train[:300], digits_big.y_train[:300]
    p = out_of_fold_probabilities(x, y, build, cv=3, epochs=10, batch_size=32, seed=0)
    assert p.shape == (300, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    assert (p.argmax(1) == y).mean() > 0.5


@pytest.mark.slow  # the command's test runs the CNN folds by default; the zoo's, a short schedule
def test_cnn_out_of_fold_probabilities_on_the_recipe_and_their_cost(digits_big):
    x, y = digits_big.x_train[:600], digits_big.y_train[:600]
    p = out_of_fold_probabilities(x, y, "cnn", cv=3, epochs=8, seed=0)
    assert p.shape == (600, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    assert (p.argmax(1) == y).mean() > 0.8  # a short schedule that evaluates well
    issues = find_label_issues((x, y), p)
    assert issues.cost == {"model": "given"} and issues.summary()["probabilities"] == issues.cost
    flat = x.reshape(len(x), -1)
    issues = find_label_issues((flat, y), model="auto", cv=3, epochs=4)
    assert issues.cost["model"] == "logistic" and issues.cost["epochs"] is None  # a table
    assert issues.cost["folds"] == 3 and issues.cost["seconds"] >= 0


def test_bad_input(digits_big):
    x, y = digits_big.x_train, digits_big.y_train
    with pytest.raises(ValueError, match="shape"):
        find_label_issues((x, y), np.zeros((3, 10)))
    with pytest.raises(ValueError, match="filter_by"):
        find_label_issues((x, y), filter_by="magic")
    with pytest.raises(ValueError, match="fewer than cv"):
        out_of_fold_probabilities(x[:12], y[:12], cv=5)
    with pytest.raises(ValueError, match="predict_proba"):
        out_of_fold_probabilities(x, y, model=42)
    with pytest.raises(ValueError, match="unknown model 'svm'.*auto, logistic, cnn"):
        out_of_fold_probabilities(x, y, model="svm")
    with pytest.raises(ValueError, match="images.*model='logistic' for tables"):
        out_of_fold_probabilities(x.reshape(len(x), -1), y, model="cnn")
