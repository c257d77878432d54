"""Diagnose and advise: where a trained model stands and what to try next (seeds 002/003).

* :func:`diagnose` / :func:`decompose_errors`: training, train-dev, dev and test errors;
  avoidable bias, variance, data mismatch, overfitting to dev; the decks' verdict and ranked
  recommendations, each naming a Keras setting or an ``automl-kit`` command.
* Error analysis: :func:`confident_errors`, :func:`plot_error_grid`, :func:`error_table`,
  :func:`tally_error_categories`.

>>> from automl_kit.diagnose import decompose_errors
>>> decompose_errors(0.010, 0.050, human_level_error=0.007).verdict  # deck's Model C
'low bias, high variance: focus on variance'
"""

from automl_kit.diagnose._advice import Recommendation
from automl_kit.diagnose._decompose import Diagnosis, decompose_errors, verdict
from automl_kit.diagnose._errors import (
    ERROR_CATEGORIES,
    confident_errors,
    error_table,
    plot_error_grid,
    tally_error_categories,
)
from automl_kit.diagnose._evaluate import diagnose, predict_probabilities
from automl_kit.diagnose._finetune import FineTuneResult, block_starts, fine_tune
from automl_kit.diagnose._noise import (
    LabelIssues,
    find_label_issues,
    flip_labels,
    out_of_fold_probabilities,
)
from automl_kit.diagnose._select import Selection, choose, measure_latency, select_model

__all__ = [
    "ERROR_CATEGORIES",
    "Diagnosis",
    "FineTuneResult",
    "LabelIssues",
    "Recommendation",
    "Selection",
    "block_starts",
    "choose",
    "measure_latency",
    "select_model",
    "confident_errors",
    "decompose_errors",
    "diagnose",
    "error_table",
    "find_label_issues",
    "fine_tune",
    "flip_labels",
    "out_of_fold_probabilities",
    "plot_error_grid",
    "predict_probabilities",
    "tally_error_categories",
    "verdict",
]
