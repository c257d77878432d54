"""``automl-kit auto``: floor, search, diagnose, act, report (mirrors ``automl_kit.auto.auto``)."""

from __future__ import annotations

import argparse

from automl_kit.auto.job import METRICS, STEPS, check_steps
from automl_kit.cli.jobs import Job, duration, fraction


def step_list(text: str | None) -> list[str] | None:
    """``--steps a,b`` as checked steps (None: every step)."""
    if text is None:
        return None
    try:
        return check_steps([s.strip() for s in text.split(",") if s.strip()])
    except ValueError as exc:
        raise ValueError(f"--steps: {exc}") from None


class Auto(Job):
    name = "auto"
    help = "one command from data to a better, diagnosed model"
    description = (
        "Within --time-budget: a floor model on the training recipe (the textbook CNN for\n"
        "images; a tuned XGBoost and the dense-space default for tables), the VLGA search and\n"
        "a final fit of its best architecture, a diagnosis of the best model, then the actions\n"
        "the diagnosis calls for (suspected label errors re-weighted, label smoothing for\n"
        "confusable classes, a weak class raised by `tweak` within --max-drop), then an\n"
        "ensemble of the models trained, each kept only if it helps on validation\n"
        "(--metric). Writes results.json (leaderboard, steps, rules), report.html and\n"
        "final_model.keras (final_model.json when a tree or an ensemble wins).\n\n"
        "example:\n  automl-kit auto --data table.csv --label y --time-budget 20m"
    )
    default_dataset = None
    safe_on_resume = frozenset({"time_budget", "max_drop"})
    outputs = ("report.html", "results.json", "final_model.keras", "final_model.json")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--time-budget",
            type=duration,
            default="20m",
            help="wall clock for the whole run, resumed calls included (e.g. 90s, 20m, 2h)",
        )
        parser.add_argument(
            "--max-drop",
            type=fraction,
            default=0.002,
            help="overall validation accuracy a class tweak may cost, a fraction (0.002: 0.2 points)",
        )
        parser.add_argument(
            "--metric",
            choices=tuple(METRICS),
            default="accuracy",
            help="what chooses the final model and keeps an action, on validation (roc_auc: "
            "two classes only)",
        )
        parser.add_argument(
            "--steps",
            default=None,
            help=f"comma-separated steps to run (default all: {','.join(STEPS)})",
        )

    def validate(self, args: argparse.Namespace) -> None:
        from automl_kit.utils import parse_duration

        if args.dataset is None and args.data is None:
            raise ValueError(
                "name the data: --data PATH (with --label COLUMN for a table) or --dataset NAME."
            )
        if not parse_duration(args.time_budget):
            raise ValueError(
                f"--time-budget {args.time_budget}: give a positive duration, e.g. 20m."
            )
        step_list(args.steps)

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.auto import auto

        result = auto(
            data,
            time_budget=args.time_budget,
            max_drop=args.max_drop,
            metric=args.metric,
            steps=step_list(args.steps),
            run_dir=run,
            seed=args.seed,
            verbose=args.verbose,
        )
        score = METRICS[args.metric][4:]
        print(f"leaderboard (validation {score}, test {score}, seconds):")
        for entry in result.leaderboard:
            print(
                f"  {entry['name']:<28} {entry['val_' + score]:.4f}  {entry['test_' + score]:.4f}"
                f"  {entry['seconds']:>6.0f}"
            )
        for step, record in result.records.items():
            if not record.get("ran", True):
                print(f"  {step}: skipped ({record['reason']})")
            elif "kept" in record:
                print(f"  {step}: {'kept' if record['kept'] else 'not kept'} ({record['why']})")
        final = result.final
        print(
            f"final model: {final['name']} (validation {final['val_' + score]:.4f}, test "
            f"{final['test_' + score]:.4f} {score}) in {final['path']}"
        )
        return result.summary()


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Auto().register(subparsers)
