"""AutoGluon's arm of ``auto_compare``, run by the Python of an environment that has AutoGluon.

AutoGluon pins its own pandas, pyarrow and xgboost, so it lives in an environment of its own
(``python -m venv ag && ag/bin/pip install "autogluon.tabular[lightgbm,catboost,xgboost]"``)
and this script imports nothing of ``automl_kit``. It reads the splits from an ``.npz``
(``x_train``, ``y_train``, ``x_val``, ``y_val``, ``x_test``, ``y_test``), fits
``TabularPredictor(eval_metric="roc_auc")`` on train with validation as its tuning data (no
bagging: AutoGluon then chooses and weights its models on the same split ``auto`` uses) within
the time limit on one CPU, and writes the test figures as JSON.

    ag/bin/python benchmarks/_autogluon_arm.py SPLITS.npz SECONDS SEED OUT.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time


def main(splits: str, seconds: str, seed: str, out: str) -> None:
    import numpy as np
    import pandas as pd
    from autogluon.tabular import TabularPredictor
    from sklearn.metrics import roc_auc_score

    arrays = np.load(splits)

    def frame(part: str, with_label: bool = True) -> pd.DataFrame:
        x = arrays[f"x_{part}"]
        table = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
        if with_label:
            table["label"] = arrays[f"y_{part}"]
        return table

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        predictor = TabularPredictor(
            "label", eval_metric="roc_auc", path=f"{folder}/ag", verbosity=0
        ).fit(
            frame("train"),
            tuning_data=frame("val"),
            time_limit=float(seconds),
            num_cpus=1,
            ag_args_fit={"random_seed": int(seed)},
        )
        fitted = time.monotonic() - started
        p_test = predictor.predict_proba(frame("test", with_label=False)).to_numpy()[:, 1]
        p_val = predictor.predict_proba(frame("val", with_label=False)).to_numpy()[:, 1]
        board = predictor.leaderboard(silent=True)
        figures = {
            "test_auroc": float(roc_auc_score(arrays["y_test"], p_test)),
            "val_auroc": float(roc_auc_score(arrays["y_val"], p_val)),
            "test_accuracy": float(np.mean((p_test > 0.5) == arrays["y_test"])),
            "model": str(predictor.model_best),
            "models_trained": int(len(board)),
            "fit_seconds": round(fitted, 1),
        }
    with open(out, "w") as handle:
        json.dump(figures, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
