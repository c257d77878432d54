"""``automl-kit diagnose``: where a trained model stands and what to try next (mirrors ``diagnose``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from automl_kit.cli.jobs import Job, fraction, positive_int
from automl_kit.registries import LABEL_MODEL_NAMES


class Diagnose(Job):
    name = "diagnose"
    help = "diagnose a trained model: bias/variance, per-class metrics, errors, label noise"
    description = (
        "Measure training, dev (validation) and test errors of a saved Keras model, decompose\n"
        "them into avoidable bias, variance, data mismatch and overfitting to dev, and rank\n"
        "what to try next (lecture decks' tables); per-class metrics, the most confidently\n"
        "wrong examples and, with --label-issues, suspected mislabeled training rows\n"
        "(cleanlab). Writes report.html (self-contained) and diagnosis.json.\n\n"
        "Pass the data options the model was trained with (--dataset, --n-train, --seed ...),\n"
        "so that its training split is the one it saw.\n\n"
        "example:\n  automl-kit diagnose --model runs/x/model.keras --dataset digits "
        "--human-level-error 0.01"
    )
    path_options = frozenset({"data", "model"})
    outputs = (
        "report.html",
        "diagnosis.json",
        "confusion_dev.png",
        "confusion_test.png",
        "confident_errors.png",
        "errors_to_tag.csv",
        "label_issues.csv",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        # required, but checked in validate(): --resume DIR takes it from the run
        parser.add_argument("--model", help="the trained model (.keras file); required")
        parser.add_argument(
            "--human-level-error",
            type=fraction,
            default=None,
            help="error of the best human experts, e.g. 0.01 (default: unknown, taken as 0)",
        )
        parser.add_argument(
            "--bayes-error", type=fraction, default=None, help="lowest reachable error, if known"
        )
        parser.add_argument(
            "--tolerance",
            type=fraction,
            default=0.01,
            help="a component above this counts as high (0.01: one percentage point)",
        )
        parser.add_argument(
            "--label-issues",
            action="store_true",
            help="look for mislabeled training rows (cleanlab on out-of-fold probabilities)",
        )
        parser.add_argument(
            "--label-model",
            choices=LABEL_MODEL_NAMES,
            default="auto",
            help="the model of the out-of-fold probabilities: auto = the textbook CNN on the "
            "recipe for images, logistic regression for tables",
        )
        parser.add_argument(
            "--label-epochs",
            type=positive_int,
            default=8,
            help="epochs per fold of --label-model cnn",
        )
        parser.add_argument("--cv", type=positive_int, default=5, help="folds for --label-issues")
        parser.add_argument(
            "--batch-size", type=positive_int, default=256, help="prediction batch size"
        )

    def validate(self, args: argparse.Namespace) -> None:
        if not args.model:
            raise ValueError(
                "--model required: the .keras model to diagnose (or --resume DIR to continue a run)."
            )
        if not 0 < args.tolerance < 1:
            raise ValueError(
                f"--tolerance must be in (0, 1), e.g. 0.01 (one point), got {args.tolerance}."
            )
        path = Path(args.model).expanduser()
        if path.suffix != ".keras":
            raise ValueError(
                f"--model takes a Keras model saved with model.save('m.keras'), got {args.model!r}."
            )
        if not path.is_file():
            raise ValueError(
                f"--model {args.model}: no such file; pass the path of a .keras model."
            )
        if args.label_issues and args.cv < 2:
            raise ValueError(f"--cv must be at least 2 folds, got {args.cv}.")
        if (
            args.bayes_error is not None
            and args.human_level_error is not None
            and args.bayes_error > args.human_level_error
        ):
            raise ValueError(
                "--bayes-error is the lowest reachable error and cannot exceed --human-level-error."
            )

    def check_data(self, args: argparse.Namespace, data) -> None:
        # the model and its fit to the data: before the run folder is touched
        from automl_kit.utils.models import check_model_fits_data, load_model_file

        self.model = load_model_file(args.model, option="--model")
        check_model_fits_data(self.model, data.input_shape, data.num_classes, option="--model")

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.diagnose import diagnose, find_label_issues

        model = self.model
        if args.verbose:
            print(f"diagnose: {data!r}\n          model {model.name} from {args.model}", flush=True)
        diagnosis = diagnose(
            model,
            data,
            human_level_error=args.human_level_error,
            bayes_error=args.bayes_error,
            tolerance=args.tolerance,
            batch_size=args.batch_size,
            data_args=_data_args(args),
            verbose=args.verbose,
        )
        results = diagnosis.summary()
        if args.label_issues:
            issues = find_label_issues(
                data,
                model=args.label_model,
                cv=args.cv,
                seed=args.seed,
                epochs=args.label_epochs,
                verbose=args.verbose,
            )
            issues.save(run.root)
            results["label_issues"] = issues.summary()
            cost = issues.cost
            print(
                f"label issues: {len(issues)} suspected mislabeled training rows "
                f"({cost['model']}, {cost['folds']} folds, {cost['seconds']:.0f} s)",
                flush=True,
            )
        diagnosis.save(run)
        print(f"verdict: {diagnosis.verdict}")
        for rec in diagnosis.recommendations[:5]:
            how = rec.command or rec.keras
            print(f"  {rec.rank}. {rec.action}: {how}")
        return results


def _data_args(args: argparse.Namespace) -> str | None:
    """The flags that name the user's own data in the advice, so its commands run as written."""
    if not args.data:
        return None  # a named data set: --dataset NAME
    data = f"--data {Path(args.data).expanduser().resolve()}"
    return f"{data} --label {args.label}" if args.label else data


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Diagnose().register(subparsers)
