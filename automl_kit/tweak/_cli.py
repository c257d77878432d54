"""``automl-kit tweak``: raise chosen classes of a trained model (mirrors ``tweak.tweak``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from automl_kit.cli.jobs import Job, fraction, positive_int


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 5,20,80, got {text!r}"
        )
    return values


def float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not (0 < v < math.inf) for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated finite positive numbers such as 5,20,40, got {text!r}"
        )
    return values


class Tweak(Job):
    name = "tweak"
    help = "raise chosen classes' accuracy of a trained model without retraining"
    description = (
        "Synaptic join (Kim's thesis, Ch. 3): tables of one forward pass of the training data,\n"
        "algorithm theta over every (hidden neuron, target class) synapse, the top-n synapses added\n"
        "to the target logits with n and scale chosen on the validation set. Beside it, its simple\n"
        "rival, prior calibration (one bias shift of the target logits), and the join on the\n"
        "calibrated model; --method auto keeps the one that raises the targets most on validation\n"
        "while overall validation accuracy drops by at most --max-drop. The base model is not\n"
        "changed; the tweaked model is saved.\n\n"
        "example:\n  automl-kit tweak --model m.keras --dataset fashion_mnist --target 6"
    )
    default_dataset = None
    path_options = frozenset({"data", "model"})
    outputs = (
        "results.json",
        "per_class_accuracy.png",
        "count_distribution.png",
        "tweaked.keras",
        "synapses.json",
        "theta_counts.npy",
        "tables/",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        # required, but checked in validate(): --resume DIR takes them from the run
        parser.add_argument("--model", help="trained Keras model (.keras); required")
        parser.add_argument(
            "--target", type=int, action="append", help="target class (repeatable); required"
        )
        parser.add_argument(
            "--layers",
            default=None,
            help="comma-separated hidden layer names (default: the head's input)",
        )
        parser.add_argument(
            "--n-candidates", type=int_list, default=None, help="candidate n values, e.g. 5,20,80"
        )
        parser.add_argument(
            "--scales", type=float_list, default=None, help="candidate scale values, e.g. 5,20,40"
        )
        parser.add_argument(
            "--method",
            choices=("auto", "calibration", "join", "calibrated_join"),
            default="auto",
            help="auto: the method with the best target validation accuracy within --max-drop; "
            "or one of them: calibration (prior calibration), join (synaptic join), "
            "calibrated_join (the join on the calibrated model)",
        )
        parser.add_argument(
            "--max-drop",
            type=fraction,
            default=0.002,
            help="overall validation accuracy a method may lose, as a fraction in [0, 1] "
            "(0.002: 0.2 points)",
        )
        parser.add_argument(  # the flag's name before --max-drop
            "--tolerance", dest="max_drop", type=fraction, help=argparse.SUPPRESS
        )
        parser.add_argument(
            "--batch-size", type=positive_int, default=256, help="forward-pass batch size"
        )

    def validate(self, args: argparse.Namespace) -> None:
        missing = [f for f, v in (("--model", args.model), ("--target", args.target)) if not v]
        if missing:
            raise ValueError(
                f"{' and '.join(missing)} required: name the model and the classes to raise "
                "(or --resume DIR to continue a run)."
            )
        if not Path(args.model).expanduser().is_file():
            raise ValueError(
                f"--model {args.model}: no such file; pass a model saved with model.save('m.keras')."
            )
        if len(set(args.target)) != len(args.target) or min(args.target) < 0:
            raise ValueError(f"--target {args.target}: give distinct class indices >= 0.")
        if args.dataset is None and args.data is None:
            raise ValueError(
                "name the data the model was trained on: --dataset NAME or --data PATH."
            )

    def check_data(self, args: argparse.Namespace, data) -> None:
        # the model, its fit to the data and the targets: before the run folder is touched
        from automl_kit.tweak.tables import default_layers, find_layer
        from automl_kit.utils.models import check_model_fits_data, load_model_file

        self.model = load_model_file(args.model, option="--model")
        check_model_fits_data(self.model, data.input_shape, data.num_classes, option="--model")
        outside = [t for t in args.target if t >= data.num_classes]
        if outside:
            raise ValueError(
                f"--target {outside}: {data.name} has classes 0..{data.num_classes - 1}; "
                "pick targets among them."
            )
        if args.layers is None:
            default_layers(self.model)  # a model whose head reads its input: say so now
        else:
            for name in args.layers.split(","):
                find_layer(self.model, name)

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.tweak import tweak

        result = tweak(
            self.model,
            data,
            args.target,
            method=args.method,
            layers=args.layers.split(",") if args.layers else None,
            n_candidates=args.n_candidates,
            scale_candidates=args.scales,
            max_drop=args.max_drop,
            batch_size=args.batch_size,
            run_dir=run,
            model_path=str(args.model),
        )
        print("method           validation overall  target")
        for name in ("model", "calibration", "join", "calibrated_join"):
            point = result.candidates[name]
            if point["overall"] is None:  # e.g. no usable synapse on the calibrated model
                print(f"{name:<16} not fitted: {point['not_fitted']}")
                continue
            mark = "  <- kept" if name == result.method else ""
            print(f"{name:<16} {point['overall']:>18.4f}  {point['target']:.4f}{mark}")
        made = f"mu={result.mu:g}" if result.method != "join" else ""
        if result.synapses:
            joined = f"{len(result.synapses)} synapses (n={result.n}, scale={result.scale:g})"
            made = f"{made}, {joined}" if made else joined
        print(f"tweak: {result.method} ({made}) into classes {args.target}")
        print("class  before  after")
        for k, (before, after) in enumerate(zip(result.per_class_before, result.per_class_after)):
            mark = "*" if k in args.target else " "
            print(f"{k:>4}{mark}  {before:.4f}  {after:.4f}")
        print(
            f"overall {result.test_accuracy_before:.4f}  {result.test_accuracy_after:.4f}  "
            f"(test, {len(data.y_test)} samples)"
        )
        return result.summary()


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Tweak().register(subparsers)
