"""The decks' "what to do" table as data: each problem's knobs, in the deck's order.

Seed 002, "What can we do when the quality indicators of the model are low?": one column per
problem (Bayes/human-level error high, bias high, variance high), plus the data-mismatch
remedies (synthesise training data like the dev data: noise, blur, distortions) and the
"fit a test set: bigger dev set" knob. Each entry names the concrete Keras setting or
``automl-kit`` command, so the advice can be acted on as written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PROBLEMS = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting", "human_level")


@dataclass(frozen=True)
class Recommendation:
    """One knob: what to try, for which problem, and how (a Keras setting or a command)."""

    problem: str
    action: str
    keras: str = ""
    command: str = ""
    note: str = ""
    rank: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _table(dataset: str, kind: str = "image") -> dict[str, list[Recommendation]]:
    # a name of the registry, or the flags naming the user's own data ("--data t.csv --label y")
    data = dataset if dataset.startswith("--") else f"--dataset {dataset}"
    space = "" if kind == "image" else " --space dense"
    evolve = f"automl-kit evolve {data}{space} --time-budget 1h"
    # zoo models take images; for a table the architecture search grows a bigger dense network
    bigger = f"automl-kit train {data} --model resnet20 --width 2" if kind == "image" else evolve
    return {
        "avoidable_bias": [
            Recommendation(
                "avoidable_bias",
                "bigger network (more units, layers or filters)",
                keras="keras.layers.Dense(2 * units) / keras.layers.Conv2D(2 * filters, 3); "
                "add a block",
                command=bigger,
            ),
            Recommendation(
                "avoidable_bias",
                "train longer (more epochs)",
                keras="model.fit(..., epochs=2 * epochs)",
            ),
            Recommendation(
                "avoidable_bias",
                "better optimisation algorithm (Adam, RMSprop, momentum)",
                keras="model.compile(optimizer=keras.optimizers.Adam(1e-3), ...)",
                note="automl_kit.training.optimizers.optimizer('adam') selects it by name",
            ),
            Recommendation(
                "avoidable_bias",
                "Xavier/He initialisation",
                keras="kernel_initializer='glorot_uniform' (tanh) or 'he_normal' (ReLU)",
            ),
            Recommendation(
                "avoidable_bias",
                "transfer learning from a pretrained base",
                keras="base.trainable = False; then unfreeze the top block with a 10x lower rate",
                command="automl_kit.diagnose.fine_tune(base, head, data)",
            ),
            Recommendation(
                "avoidable_bias",
                "better architecture (hyperparameter) search",
                command=evolve,
            ),
        ],
        "variance": [
            Recommendation(
                "variance",
                "regularisation (L2, dropout)",
                keras="kernel_regularizer=keras.regularizers.L2(1e-4); keras.layers.Dropout(0.2)",
                note="the decks: dropout 0.2-0.5, 0.2 a good start",
            ),
            Recommendation(
                "variance",
                "bigger training set of the same distribution as the dev set",
                keras="model.fit(x_more, y_more, ...)",
            ),
            Recommendation(
                "variance",
                "data augmentation",
                keras="keras.Sequential([keras.layers.RandomFlip('horizontal'), "
                "keras.layers.RandomRotation(0.05), keras.layers.RandomTranslation(0.1, 0.1)])",
            ),
            Recommendation(
                "variance",
                "early stopping",
                keras="keras.callbacks.EarlyStopping(monitor='val_loss', patience=5, "
                "restore_best_weights=True)",
            ),
            Recommendation(
                "variance",
                "smaller (or better) network",
                keras="halve units/filters or drop a block",
            ),
            Recommendation(
                "variance",
                "transfer learning",
                command="automl_kit.diagnose.fine_tune(base, head, data)",
            ),
            Recommendation(
                "variance",
                "better architecture (hyperparameter) search",
                command=evolve,
            ),
        ],
        "data_mismatch": [
            Recommendation(
                "data_mismatch",
                "make training data like the dev data (add its noise, blur, distortions)",
                keras="keras.layers.GaussianNoise(0.1); keras.layers.RandomContrast(0.2)",
            ),
            Recommendation(
                "data_mismatch",
                "draw train, dev and test sets from every distribution alike",
                keras="sklearn.model_selection.train_test_split(..., stratify=source)",
            ),
        ],
        "dev_overfitting": [
            Recommendation(
                "dev_overfitting",
                "bigger dev set (the model was tuned to the dev set)",
                command=f"automl-kit diagnose {data} --n-val 5000 ...",
            ),
        ],
        "human_level": [
            Recommendation(
                "human_level",
                "clean data (mislabeled, blurred, outliers)",
                command=f"automl-kit diagnose {data} --label-issues ...",
                note="automl_kit.diagnose.find_label_issues names suspect rows",
            ),
            Recommendation("human_level", "add discriminating attributes (features)"),
            Recommendation("human_level", "remove ambiguity (contradictory training examples)"),
        ],
    }


def recommendations(
    focus: list[str], dataset: str = "NAME", kind: str = "image"
) -> list[Recommendation]:
    """The knobs for each problem in ``focus`` (most urgent first), ranked 1, 2, ...;
    ``kind`` (``"image"`` or ``"tabular"``) picks the commands that fit the data."""
    table = _table(dataset, kind)
    ranked = []
    for problem in focus:
        for rec in table[problem]:
            ranked.append(
                Recommendation(
                    rec.problem, rec.action, rec.keras, rec.command, rec.note, len(ranked) + 1
                )
            )
    return ranked
