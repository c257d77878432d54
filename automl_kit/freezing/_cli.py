"""``automl-kit train``: train a zoo model with a freezing policy (mirrors ``FreezingTrainer``)."""

from __future__ import annotations

import argparse
import time

from automl_kit.cli.jobs import Job, positive_float, positive_int
from automl_kit.registries import MODELS, OPTIMIZER_NAMES, POLICIES, SCHEDULE_NAMES


def parse_milestones(text: str) -> list[float]:
    """``"0.5,0.75"`` -> ``[0.5, 0.75]``: fractions of the epochs in (0, 1), increasing."""
    try:
        fractions = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        fractions = None
    if fractions is None or any(not 0 < f < 1 for f in fractions) or fractions != sorted(fractions):
        raise ValueError(
            f"--milestones takes increasing comma-separated fractions in (0, 1) such as 0.5,0.75 "
            f"('' for a constant rate), got {text!r}."
        )
    return fractions


def model_name(text: str) -> str:
    """A zoo model name, refused with the registry's one wording ("unknown model ...")."""
    try:
        MODELS.get(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None
    return text


class Train(Job):
    name = "train"
    help = "train a zoo model with intelligent layer freezing (or a rival policy)"
    description = (
        "Train (SGD + step decay by default) while a policy freezes leading layers (Xiao, Part 3);\n"
        "logs frozen layers, freezing rates and epoch times, plots them, scores the test set.\n\n"
        "example:\n  automl-kit train --model resnet20 --dataset cifar10 --freezing intelligent --epochs 12"
    )
    default_dataset = "cifar10"
    outputs = (
        "results.json",
        "freezing_log.csv",
        "freezing.json",
        "frozen_prefix.png",
        "freezing_rates.png",
        "model.keras",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--model",
            default="resnet20",
            type=model_name,
            help=f"zoo architecture: {', '.join(MODELS.names())}",
        )
        parser.add_argument(
            "--width", type=positive_float, default=1.0, help="channel multiplier of the model"
        )
        parser.add_argument(
            "--freezing", default="intelligent", choices=POLICIES.names(), help="policy"
        )
        parser.add_argument(
            "--freeze-mode",
            choices=("safe", "thesis"),
            default="safe",
            help="--freezing intelligent: safe (two agreeing measurements, gradual growth, "
            "continuous freezing) or thesis (Algorithm 1); IntelligentFreezing(mode=...)",
        )
        parser.add_argument("--epochs", type=positive_int, default=12, help="training epochs")
        parser.add_argument(
            "--batch-size", type=positive_int, default=128, help="training batch size"
        )
        parser.add_argument(
            "--optimizer",
            type=str.lower,
            choices=OPTIMIZER_NAMES,
            default="sgd",
            help="optimizer (sgd: momentum 0.9, as the thesis)",
        )
        parser.add_argument("--lr", type=positive_float, default=0.1, help="initial learning rate")
        parser.add_argument(
            "--schedule",
            type=str.lower,
            choices=("step", *SCHEDULE_NAMES),
            default="step",
            help="step: x0.1 at --milestones (thesis); the others: the lecture decks' decays "
            "per epoch at --decay-rate (automl_kit.training.schedule)",
        )
        parser.add_argument(
            "--milestones",
            default="0.5,0.75",
            help="--schedule step: x0.1 at these fractions of the epochs ('' for a constant rate)",
        )
        parser.add_argument(
            "--decay-rate",
            type=positive_float,
            default=None,
            help="inverse_time/exponential: decay per epoch (0.1); staircase: factor (0.5)",
        )
        parser.add_argument(
            "--frozen-batchnorm",
            choices=("update", "inference"),
            default="update",
            help="update: frozen BN layers keep batch statistics (thesis/PyTorch); inference: Keras semantics",
        )
        parser.add_argument(
            "--record-rates",
            action="store_true",
            help="measure freezing rates every epoch (for the plot)",
        )

    def validate(self, args: argparse.Namespace) -> None:
        parse_milestones(args.milestones)
        explicit = set(getattr(args, "explicit", None) or ())
        if args.schedule != "step" and "milestones" in explicit:
            raise ValueError(
                f"--milestones belongs to --schedule step; drop it for {args.schedule}."
            )
        if args.freezing != "intelligent" and "freeze_mode" in explicit:
            raise ValueError(
                f"--freeze-mode belongs to --freezing intelligent; drop it for {args.freezing}."
            )
        if args.decay_rate is not None and args.schedule not in {
            "inverse_time",
            "exponential",
            "staircase",
        }:
            raise ValueError(
                f"--decay-rate has no effect with --schedule {args.schedule}; drop it or pick "
                "inverse_time, exponential or staircase."
            )

    def check_data(self, args: argparse.Namespace, data) -> None:
        if len(data.input_shape) != 3:
            raise ValueError(
                f"zoo models take images; {data.name} has samples of shape {data.input_shape} "
                "(a table): use `automl-kit evolve --space dense` for tables."
            )

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.freezing import FreezingTrainer, StepDecay
        from automl_kit.freezing.plots import plot_freezing_rates, plot_frozen_prefix
        from automl_kit.training import optimizer, schedule

        model = MODELS.create(args.model, data.input_shape, data.num_classes, width=args.width)
        if args.schedule == "step":
            learning_rate = args.lr
            step_decay = StepDecay.for_epochs(
                args.epochs, args.lr, parse_milestones(args.milestones)
            )
        else:  # a Keras schedule inside the optimizer, counted in batches
            rate = (
                {}
                if args.decay_rate is None
                else {"factor" if args.schedule == "staircase" else "decay_rate": args.decay_rate}
            )
            steps = -(-len(data.x_train) // args.batch_size)
            learning_rate = schedule(args.schedule, args.lr, steps_per_epoch=steps, **rate)
            step_decay = None
        trainer = FreezingTrainer(
            model,
            optimizer(args.optimizer, learning_rate),
            schedule=step_decay,
            policy=POLICIES.create(args.freezing, **_policy_options(args)),
            frozen_batchnorm=args.frozen_batchnorm,
            record_rates=args.record_rates,
        )
        if args.verbose:
            print(
                f"train: {data!r}\n       {args.model} (width {args.width}, {model.count_params():,} "
                f"parameters), policy {trainer.policy!r}, run directory {run.root}",
                flush=True,
            )
        # checkpoint every epoch into the run directory, so that --resume continues it
        resume = {"run_dir": run, "resume": bool(args.resume), "seed": args.seed}
        started = time.perf_counter()
        trainer.fit(
            data.x_train,
            data.y_train,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_data=data.validation_data,
            verbose=2 if args.verbose else 0,
            **resume,
        )
        seconds = time.perf_counter() - started
        test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
        trainer.save_log(run.root)
        summary = trainer.callback.summary()
        plot_frozen_prefix(summary, run.path("frozen_prefix.png"))
        if any(row["freezing_rates"] is not None for row in summary["epochs"]):
            plot_freezing_rates(summary, run.path("freezing_rates.png"))
        model.save(run.path("model.keras"))
        frozen_epochs = sum(row["frozen_layers"] > 0 for row in summary["epochs"])
        print(
            f"trained {args.epochs} epochs in {seconds:.1f} s ({frozen_epochs} with frozen layers); "
            f"test accuracy {test_accuracy:.4f} ({len(data.y_test)} samples)"
        )
        return {
            "dataset": data.summary(),
            "model": args.model,
            "policy": summary["policy"],
            "train_seconds": seconds,
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "epochs_with_freezing": frozen_epochs,
        }


def _policy_options(args: argparse.Namespace) -> dict:
    """The policy's constructor options the command line sets."""
    return {"mode": args.freeze_mode} if args.freezing == "intelligent" else {}


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Train().register(subparsers)
