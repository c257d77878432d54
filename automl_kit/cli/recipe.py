"""The training-recipe options every command that trains takes (``evolve``, ``train``).

One set of flags, mapped onto :class:`automl_kit.training.Recipe`'s fields; a flag left out
keeps the recipe's default, so the defaults live in one place.
"""

from __future__ import annotations

import argparse

from automl_kit.cli.jobs import fraction, positive_float, positive_int
from automl_kit.registries import (
    AUGMENTATION_NAMES,
    OPTIMIZER_NAMES,
    RECIPE_KEEP_NAMES,
    RECIPE_SCHEDULE_NAMES,
)

# argparse destination -> Recipe field
RECIPE_OPTIONS = {
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "weight_decay": "weight_decay",
    "lr_schedule": "schedule",
    "warmup": "warmup",
    "batch_size": "batch_size",
    "augment": "augment",
    "label_smoothing": "label_smoothing",
    "keep": "keep",
}


def below_one(text: str) -> float:
    """A number in [0, 1) (label smoothing, warm-up share, weight decay)."""
    value = fraction(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1, got {text!r}")
    return value


def add_recipe_options(
    parser: argparse.ArgumentParser, *, schedules: tuple[str, ...] = RECIPE_SCHEDULE_NAMES
) -> None:
    """The recipe's flags, defaults None ("the recipe's", named in each help)."""
    group = parser.add_argument_group("training recipe (automl_kit.training.Recipe)")
    group.add_argument(
        "--optimizer",
        type=str.lower,
        choices=OPTIMIZER_NAMES,
        default=None,
        help="optimizer, weight decay decoupled (default: adamw)",
    )
    group.add_argument(
        "--lr", type=positive_float, default=None, help="peak learning rate (default: 0.003)"
    )
    group.add_argument(
        "--weight-decay",
        type=below_one,
        default=None,
        help="decoupled weight decay (default: 5e-4)",
    )
    group.add_argument(
        "--lr-schedule",
        type=str.lower,
        choices=schedules,
        default=None,
        help="decay after the warm-up, counted in steps over the whole fit: cosine, onecycle "
        "(linear to 0), step (x0.1 at 50%% and 75%%), constant (default: cosine)",
    )
    group.add_argument(
        "--warmup",
        type=below_one,
        default=None,
        help="share of the steps with a linear warm-up (default: 0.1)",
    )
    group.add_argument(
        "--batch-size", type=positive_int, default=None, help="training batch size (default: 64)"
    )
    group.add_argument(
        "--augment",
        choices=AUGMENTATION_NAMES,
        default=None,
        help="training-time image augmentation (default auto: flips and translations for "
        "colour images, none for grey ones such as digits)",
    )
    group.add_argument(
        "--label-smoothing", type=below_one, default=None, help="label smoothing (default: 0)"
    )
    group.add_argument(
        "--keep",
        choices=RECIPE_KEEP_NAMES,
        default=None,
        help="weights kept at the end: the best validation epoch, the moving average (ema) or "
        "the last (default: best)",
    )


def recipe_changes(args: argparse.Namespace) -> dict:
    """The Recipe fields the command line set (``Recipe().with_options(**changes)``)."""
    changes = {}
    for dest, field in RECIPE_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None or field == "schedule" and value not in RECIPE_SCHEDULE_NAMES:
            continue  # the recipe's default, or a per-epoch decay the command builds itself
        changes[field] = value
    return changes


def recipe_from_args(args: argparse.Namespace):
    """The :class:`~automl_kit.training.Recipe` the command line describes (checked)."""
    from automl_kit.training import Recipe

    return Recipe().with_options(**recipe_changes(args))
