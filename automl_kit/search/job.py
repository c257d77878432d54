"""``evolve``: what ``automl-kit evolve`` does, in Python: a search, then the final fit of the
best model on the search's recipe, scored once on the test set.

>>> from automl_kit.search import SearchResult, evolve
>>> result = evolve(ak.datasets.load("digits"), time_budget="2m", run_dir="runs/d")  # doctest: +SKIP
>>> result.final.test_accuracy, SearchResult.load("runs/d").summary()["test_accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time

from automl_kit.registries import SEARCH_RIVAL_NAMES as RIVALS
from automl_kit.search.base import Searcher
from automl_kit.search.result import SearchResult
from automl_kit.utils import Comparison, RunDirectory


def evolve(
    data,
    searcher: Searcher | None = None,
    *,
    time_budget: str | float | None = None,
    max_evaluations: int | None = None,
    final_epochs: int = 15,
    rival: str = "auto",
    run_dir: str | os.PathLike | RunDirectory | None = None,
    resume: bool = False,
    extend: bool = False,
    seed: int = 0,
    verbose: int = 1,
) -> SearchResult:
    """Search ``data`` (a :class:`~automl_kit.datasets.Dataset`) with ``searcher`` (default: the
    VLGA on the stage space, ``seed``), train the best model for ``final_epochs`` on the
    search's recipe (``result.final``) and score it on the test set; saved in the search's run
    directory. A finished run resumed without ``extend`` comes back as it was
    (``result.from_earlier_run``), with no new final fit.

    ``rival="auto"`` (images) or ``"textbook"`` also trains the no-search rival, the textbook
    CNN, from ``seed`` with the same recipe and ``final_epochs``: ``result.comparison`` says
    which won on validation (both scored on test), and its model is saved as
    ``rival_model.keras``. ``"none"`` (and tables, under ``"auto"``) skips it.
    """
    if rival not in RIVALS:
        raise ValueError(f"unknown rival {rival!r}; choose one of: {', '.join(RIVALS)}.")
    if rival == "textbook" and len(data.input_shape) != 3:
        raise ValueError(
            f"rival='textbook' is a CNN for images; {data.name} has samples of shape "
            f"{data.input_shape}: use rival='none' (or 'auto') for tables."
        )
    if searcher is None:
        from automl_kit.search.spaces import StageSpace
        from automl_kit.search.vlga import VariableLengthGA

        searcher = VariableLengthGA(StageSpace(), seed=seed, verbose=verbose)
    result = searcher.search(
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        time_budget=time_budget,
        max_evaluations=max_evaluations,
        run_dir=run_dir,
        resume=resume,
        extend=extend,
    )
    if result.from_earlier_run:
        return result
    if verbose:
        print(
            f"search done: {result.stop_reason or 'finished'}; best fitness "
            f"{result.best_fitness:.4f} after {result.evaluations:g} evaluations; final fit "
            f"({final_epochs} epochs)...",
            flush=True,
        )
    final = result.final_fit(
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        epochs=final_epochs,
        seed=seed,
        verbose=2 if verbose else 0,  # one line per epoch
    )
    test_loss, test_accuracy = final.model.evaluate(data.x_test, data.y_test, verbose=0)[:2]
    final.test_loss, final.test_accuracy = float(test_loss), float(test_accuracy)
    result.final, result.dataset = final, data.summary()
    if rival == "textbook" or (rival == "auto" and len(data.input_shape) == 3):
        result.rival_model, result.comparison = _textbook_rival(
            data, result, final_epochs, seed, verbose
        )
    result.save()
    return result


def _textbook_rival(data, result: SearchResult, epochs: int, seed: int, verbose: int):
    """The textbook CNN trained like the final fit (same recipe, epochs, seed), both scored."""
    import keras

    from automl_kit.zoo import build_model

    if verbose:
        print(f"rival: the textbook CNN without search ({epochs} epochs)...", flush=True)
    keras.utils.set_random_seed(seed)
    model = build_model("textbook_cnn", data.input_shape, data.num_classes)
    recipe = result.recipe
    started = time.perf_counter()
    history = recipe.fit(
        model,
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        epochs=epochs,
        seed=seed,
        verbose=2 if verbose else 0,
    ).history
    seconds = time.perf_counter() - started
    score = recipe.kept_accuracy(model, history, data.validation_data)
    test = float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])
    final = result.final
    comparison = Comparison(
        "the searched model",
        final.best_val_accuracy,
        "the textbook CNN (no search)",
        score,
        method_test=final.test_accuracy,
        rival_test=test,
        rival_seconds=round(seconds, 1),
        hint=f"rival_model.keras, or `automl-kit train --model textbook_cnn --freezing none "
        f"--epochs {epochs}`",
    )
    return model, comparison
