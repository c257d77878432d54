"""``automl-kit train``: train a zoo model with a freezing policy (mirrors ``FreezingTrainer``)."""

from __future__ import annotations

import argparse

from automl_kit.cli.jobs import Job, positive_float, positive_int
from automl_kit.cli.recipe import add_recipe_options, recipe_from_args
from automl_kit.registries import MODELS, POLICIES, RECIPE_SCHEDULE_NAMES

# per-epoch decays of the lecture decks (automl_kit.training.schedule), beside the recipe's shapes
DECK_DECAYS = ("inverse_time", "exponential", "inverse_sqrt", "staircase")
DECAY_RATES = ("inverse_time", "exponential", "staircase")  # the decays --decay-rate sets


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
        "Train with the shared recipe (AdamW, warm-up and cosine decay, augmentation by data kind,\n"
        "best epoch kept) while a policy freezes leading layers (Xiao, Part 3); logs frozen\n"
        "layers, freezing rates and epoch times, plots them, scores the test set.\n\n"
        "examples:\n"
        "  automl-kit train --model resnet20 --dataset cifar10 --freezing intelligent --epochs 30\n"
        "  automl-kit train --optimizer sgd --lr 0.1 --weight-decay 0 --lr-schedule step \\\n"
        "      --warmup 0 --batch-size 128 --augment none --keep last    # the thesis's recipe"
    )
    default_dataset = "cifar10"
    outputs = (
        "results.json",
        "freezing_log.csv",
        "freezing.json",
        "frozen_prefix.png",
        "freezing_rates.png",
        "model.keras",
        "rival_model.keras",
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
            "--compare",
            default=None,
            choices=POLICIES.names(),
            help="also train the same model from the same initialisation with this policy (e.g. "
            "none) and say which won on validation and at what time (twice the training)",
        )
        add_recipe_options(parser, schedules=(*RECIPE_SCHEDULE_NAMES, *DECK_DECAYS))
        parser.add_argument(
            "--decay-rate",
            type=positive_float,
            default=None,
            help="--lr-schedule inverse_time/exponential (decay per epoch, 0.1) or staircase "
            "(factor, 0.5): the lecture decks' decays, without warm-up",
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
        explicit = set(getattr(args, "explicit", None) or ())
        if args.freezing != "intelligent" and "freeze_mode" in explicit:
            raise ValueError(
                f"--freeze-mode belongs to --freezing intelligent; drop it for {args.freezing}."
            )
        if args.decay_rate is not None and args.lr_schedule not in DECAY_RATES:
            raise ValueError(
                f"--decay-rate has no effect with --lr-schedule {args.lr_schedule or 'cosine'}; "
                f"drop it or pick one of {', '.join(DECAY_RATES)}."
            )

    def check_data(self, args: argparse.Namespace, data) -> None:
        if len(data.input_shape) != 3:
            raise ValueError(
                f"zoo models take images; {data.name} has samples of shape {data.input_shape} "
                "(a table): use `automl-kit evolve --space dense` for tables."
            )

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.freezing import train
        from automl_kit.training import optimizer, schedule

        recipe = recipe_from_args(args)
        chosen = None  # the recipe's optimizer and schedule
        if args.lr_schedule in DECK_DECAYS:  # a Keras schedule inside the optimizer, per batch
            rate = (
                {}
                if args.decay_rate is None
                else {
                    "factor" if args.lr_schedule == "staircase" else "decay_rate": args.decay_rate
                }
            )
            steps = -(-len(data.x_train) // recipe.batch_size)
            learning_rate = schedule(
                args.lr_schedule, recipe.learning_rate, steps_per_epoch=steps, **rate
            )
            chosen = optimizer(recipe.optimizer, learning_rate, weight_decay=recipe.weight_decay)
        policy = POLICIES.create(args.freezing, **_policy_options(args))
        if args.verbose:
            print(
                f"train: {data!r}\n       {args.model} (width {args.width}), policy {policy!r}, "
                f"run directory {run.root}",
                flush=True,
            )
        result = train(
            data,
            args.model,
            policy=policy,
            epochs=args.epochs,
            recipe=recipe,
            optimizer=chosen,
            width=args.width,
            frozen_batchnorm=args.frozen_batchnorm,
            record_rates=args.record_rates,
            compare=args.compare,
            seed=args.seed,
            run_dir=run,  # checkpointed every epoch, so that --resume continues it
            resume=bool(args.resume),
            verbose=args.verbose,
        )
        print(
            f"trained {args.epochs} epochs in {result.train_seconds:.1f} s "
            f"({result.epochs_with_freezing} with frozen layers); test accuracy "
            f"{result.test_accuracy:.4f} ({len(data.y_test)} samples)"
        )
        if result.comparison is not None:
            print(result.comparison.verdict())
        return result.summary()


def _policy_options(args: argparse.Namespace) -> dict:
    """The policy's constructor options the command line sets."""
    return {"mode": args.freeze_mode} if args.freezing == "intelligent" else {}


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Train().register(subparsers)
