"""The search result's final fit: the recipe's schedule, the time budget, the kept weights."""

from __future__ import annotations

import pytest

from automl_kit.search import DenseSpace, VariableLengthGA
from automl_kit.training import Recipe


@pytest.fixture(scope="module")
def dense_result(tmp_path_factory, digits_small):
    d = digits_small
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    ga = VariableLengthGA(
        DenseSpace(units=(16,), dropout=(0.0,)),
        population=2,
        generations=1,
        max_phases=1,
        epochs_per_eval=1,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    data = (flat(d.x_train), d.y_train), (flat(d.x_val), d.y_val)
    result = ga.search(
        *data[0], validation_data=data[1], run_dir=tmp_path_factory.mktemp("r") / "run"
    )
    return result, data


def test_final_fit_trains_the_recipes_schedule_and_keeps_the_best_epochs_weights(dense_result):
    result, (train, val) = dense_result
    import keras

    # a huge learning rate makes validation accuracy rise and fall: the last epoch is not the best
    keras.utils.set_random_seed(1)
    recipe = result.recipe.with_options(learning_rate=1.0, schedule="constant", warmup=0.0)
    final = result.final_fit(*train, validation_data=val, epochs=6, recipe=recipe)
    assert final.epochs == 6
    assert final.history["val_accuracy"][-1] < final.best_val_accuracy  # so restoring matters
    _, accuracy = final.model.evaluate(*val, verbose=0)
    # the returned model scores what its best epoch scored, not its last epoch
    assert accuracy == pytest.approx(final.best_val_accuracy, abs=1e-6)
    assert final.best_val_accuracy == max(final.history["val_accuracy"])


def test_final_fit_trains_with_the_searchs_recipe_by_default(dense_result):
    result, _ = dense_result
    assert result.recipe == Recipe(batch_size=32)  # the search's batch_size= shorthand
    assert result.recipe.get_config() == result.config["recipe"]


def test_final_fit_starts_from_the_searched_model(dense_result):
    result, (train, val) = dense_result
    _, searched = result.best_model().evaluate(*val, verbose=0)
    assert searched == pytest.approx(result.best_fitness, abs=1e-6)  # the saved best model


def test_final_fit_time_budget_ends_training(dense_result):
    result, (train, val) = dense_result
    final = result.final_fit(*train, validation_data=val, epochs=50, time_budget=1e-6)
    assert final.epochs == 1  # stopped in the first epoch, which still gets validated
    with pytest.raises(ValueError):
        result.final_fit(*train, validation_data=val, time_budget="soon")


def test_final_fit_with_keep_last_keeps_the_last_weights(dense_result):
    result, (train, val) = dense_result
    import keras

    keras.utils.set_random_seed(1)  # as above: the last epoch is not the best
    recipe = result.recipe.with_options(
        learning_rate=1.0, schedule="constant", warmup=0.0, keep="last"
    )
    final = result.final_fit(*train, validation_data=val, epochs=6, recipe=recipe)
    assert final.epochs == 6
    assert final.history["val_accuracy"][-1] < max(final.history["val_accuracy"])
    _, accuracy = final.model.evaluate(*val, verbose=0)
    assert accuracy == pytest.approx(final.history["val_accuracy"][-1], abs=1e-6)
    assert final.best_val_accuracy == pytest.approx(accuracy, abs=1e-6)
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        result.final_fit(*train, validation_data=val, epochs=0)


def test_a_run_made_before_recipes_reads_back_as_the_constant_rate_it_trained_with(dense_result):
    result, _ = dense_result
    legacy = {k: v for k, v in result.config.items() if k != "recipe"}
    legacy.update(optimizer="nadam", learning_rate=0.004, batch_size=16)
    old = type(result)(result.space, result.best, result.history, result.run, legacy)
    assert old.recipe == Recipe(
        optimizer="nadam",
        learning_rate=0.004,
        batch_size=16,
        weight_decay=0.0,
        schedule="constant",
        warmup=0.0,
        augment="none",
        keep="last",
    )
