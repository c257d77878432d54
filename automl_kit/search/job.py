"""``evolve``: what ``automl-kit evolve`` does, in Python: a search, then the final fit of the
best model on the search's recipe, scored once on the test set.

>>> from automl_kit.search import SearchResult, evolve
>>> result = evolve(ak.datasets.load("digits"), time_budget="2m", run_dir="runs/d")  # doctest: +SKIP
>>> result.final.test_accuracy, SearchResult.load("runs/d").summary()["test_accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import os

from automl_kit.search.base import Searcher
from automl_kit.search.result import SearchResult
from automl_kit.utils import RunDirectory


def evolve(
    data,
    searcher: Searcher | None = None,
    *,
    time_budget: str | float | None = None,
    max_evaluations: int | None = None,
    final_epochs: int = 15,
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
    """
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
    result.save()
    return result
