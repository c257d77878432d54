"""``automl-kit evolve``: any registered architecture search from the command line (mirrors ``Searcher``)."""

from __future__ import annotations

import argparse

from automl_kit.cli.jobs import (
    Job,
    duration,
    flag,
    non_negative_float,
    positive_float,
    positive_int,
)
from automl_kit.cli.recipe import add_recipe_options, recipe_from_args
from automl_kit.registries import ACTIVATION_NAMES, EXECUTORS, SEARCHERS
from automl_kit.registries import SEARCH_RIVAL_NAMES as RIVALS
from automl_kit.utils.budget import Budget

SPACE_CHOICES = ("stages", "thesis", "compact", "dense")
# Options only some algorithms take (CLI dest -> constructor keyword); None = the algorithm's default.
ALGORITHM_OPTIONS = {
    "population": "population",
    "generations": "generations",
    "max_phases": "max_phases",
    "phase_patience": "phase_patience",
    "schedule": "schedule",
    "budget_phases": "budget_phases",
    "stop_threshold": "stop_threshold",
    "max_blocks": "max_blocks",
}
STOPS_BY_ITSELF = {"vlga"}


def activation_list(text: str) -> tuple[str, ...]:
    """``relu,elu`` -> ("relu", "elu"), each a name of :data:`ACTIVATION_NAMES`."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in ACTIVATION_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown activation {', '.join(unknown) or repr(text)}; give a comma-separated "
            f"list of: {', '.join(ACTIVATION_NAMES)}"
        )
    return names  # the others search until their budget is spent


def gpu_ids(text: str) -> str:
    """``"0,1"``: comma-separated GPU ids (whole numbers >= 0), checked before anything runs."""
    ids = [part.strip() for part in text.split(",")]
    if not ids or not all(part.isdigit() for part in ids):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated GPU ids such as 0 or 0,1, got {text!r}"
        )
    return ",".join(ids)


class Evolve(Job):
    name = "evolve"
    help = "search a CNN (or dense net) with the variable-length GA or a rival search"
    description = (
        "Architecture search (Xiao, thesis Part 2). The variable-length GA grows models block by block,\n"
        "inheriting the best model's weights; with a budget its phases share it (--schedule), without\n"
        "one it stops when a new phase no longer helps (the thesis); --algorithm runs a\n"
        f"rival instead ({', '.join(SEARCHERS.names())}). The best model is then trained to\n"
        "convergence and scored on the test set.\n\n"
        "example:\n  automl-kit evolve --dataset digits --space compact --time-budget 3m\n"
        "  automl-kit evolve --algorithm random_search --max-evaluations 20 --space compact\n"
        "  automl-kit evolve --resume runs/20261123-101500-evolve"
    )
    args_file = "cli_args.json"  # config.json belongs to the searcher (checked on resume)
    safe_on_resume = frozenset(
        {"time_budget", "max_evaluations", "final_epochs", "rival", "workers", "executor", "gpus"}
    )
    never_saved = frozenset({"ray_address"})
    can_extend = True
    budget_options = frozenset({"time_budget", "max_evaluations"})
    outputs = (
        "results.json",
        "history.csv",
        "evaluations.jsonl",
        "best_chromosome.json",
        "best_architecture.txt",
        "fitness.png",
        "final_model.keras",
        "rival_model.keras",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--algorithm", default="vlga", help=f"search: {', '.join(SEARCHERS.names())}"
        )
        parser.add_argument(
            "--space",
            choices=SPACE_CHOICES,
            default="stages",
            help="stages: conv-BatchNorm stages with a global-average-pool head (the textbook CNN "
            "is a member, and the search starts from it); thesis: Xiao Table 2.1 (GPU-sized); "
            "compact: the thesis genes with channels<=64, kernels<=5; dense: tables",
        )
        parser.add_argument(
            "--epochs-per-eval",
            type=positive_int,
            default=5,
            help="training epochs that define fitness",
        )
        parser.add_argument(
            "--activations",
            type=activation_list,
            default=None,
            help="activations the search chooses from, e.g. relu,elu,selu (default: the space's)",
        )
        parser.add_argument(
            "--early-rejection",
            type=positive_float,
            default=None,
            help="stop candidates whose epoch-1 accuracy is below this fraction of the median",
        )
        parser.add_argument(
            "--time-budget",
            type=duration,
            default=None,
            help="wall-clock budget of the search, e.g. 90s, 30m, 2h",
        )
        parser.add_argument(
            "--max-evaluations",
            type=positive_int,
            default=None,
            help="budget in trained candidates, counting every evaluation of the run (with "
            "--resume/--extend too, earlier ones included: raise it above the count done)",
        )
        parser.add_argument(
            "--final-epochs",
            type=positive_int,
            default=15,
            help="epochs of the final fit: one full schedule of the recipe, best epoch kept",
        )
        parser.add_argument(
            "--rival",
            choices=RIVALS,
            default="auto",
            help="the no-search rival trained beside the final fit (same recipe and epochs) and "
            "compared on validation: textbook (the textbook CNN), none; auto: textbook for images",
        )
        add_recipe_options(parser)
        group = parser.add_argument_group(
            "algorithm options", "given only to the algorithms that take them (default: theirs)"
        )
        group.add_argument(
            "--population",
            type=int,
            default=None,
            help="individuals per generation (20; vlga when paced: 4)",
        )
        group.add_argument(
            "--generations", type=int, default=None, help="vlga: generations per phase (5)"
        )
        group.add_argument(
            "--max-phases", type=int, default=None, help="vlga: stop after this many phases"
        )
        group.add_argument(
            "--phase-patience",
            type=int,
            default=None,
            help="vlga: grow after this many generations without improvement",
        )
        group.add_argument(
            "--schedule",
            choices=("auto", "paced", "thesis"),
            default=None,
            help="vlga: paced shares the budget among the phases and spends all of it; thesis runs "
            "--generations per phase and stops when a phase falls below the earlier best; auto "
            "(default): paced with a budget, thesis without",
        )
        group.add_argument(
            "--budget-phases",
            type=int,
            default=None,
            help="vlga, paced: how many phases share the budget (4)",
        )
        group.add_argument(
            "--stop-threshold",
            type=non_negative_float,
            default=None,
            help="vlga: a phase whose best drops this far below the earlier best stops the thesis "
            "schedule; paced, the next phase grows from the best phase so far (0.01)",
        )
        group.add_argument(
            "--max-blocks", type=int, default=None, help="peers: most blocks in a model (5)"
        )
        where = parser.add_argument_group("where candidates train")
        where.add_argument(
            "--executor", choices=EXECUTORS.names(), default="serial", help="executor"
        )
        where.add_argument(
            "--workers",
            type=positive_int,
            default=None,
            help="worker processes/actors (default: CPU count)",
        )
        where.add_argument(
            "--ray-address",
            default=None,
            help="with --executor ray: an existing cluster (default: a local Ray); "
            "never read back from a run directory",
        )
        where.add_argument(
            "--gpus",
            type=gpu_ids,
            default=None,
            help="comma-separated GPU ids, one per worker, e.g. 0,1",
        )

    def validate(self, args: argparse.Namespace) -> None:
        cls = SEARCHERS.get(args.algorithm)
        accepted = cls.options
        wrong = [
            flag(dest)
            for dest, keyword in ALGORITHM_OPTIONS.items()
            if getattr(args, dest, None) is not None and keyword not in accepted
        ]
        if wrong:
            takes = [flag(d) for d, k in ALGORITHM_OPTIONS.items() if k in accepted]
            raise ValueError(
                f"--algorithm {args.algorithm} does not take {', '.join(wrong)}; drop "
                f"{'it' if len(wrong) == 1 else 'them'} (it takes: {', '.join(takes) or 'none of the algorithm options'})."
            )
        if (
            args.algorithm not in STOPS_BY_ITSELF
            and args.time_budget is None
            and args.max_evaluations is None
        ):
            raise ValueError(
                f"--algorithm {args.algorithm} searches until its budget is spent: "
                "add --time-budget (e.g. 10m) or --max-evaluations."
            )
        explicit = set(getattr(args, "explicit", None) or ())
        if args.extend and not explicit & {"time_budget", "max_evaluations"}:
            raise ValueError("--extend needs a new budget: add --time-budget or --max-evaluations.")
        if args.ray_address and args.executor != "ray":
            raise ValueError("--ray-address needs --executor ray.")
        self.searcher = self.build_searcher(cls, args)  # its own checks, before any work
        # e.g. --schedule paced needs a budget
        self.searcher.validate_budget(Budget(args.time_budget, args.max_evaluations))

    def build_searcher(self, cls, args):
        from automl_kit.search import CNNSpace, DenseSpace, StageSpace

        make = {
            "stages": StageSpace,
            "thesis": CNNSpace,
            "compact": CNNSpace.compact,
            "dense": DenseSpace,
        }[args.space]
        space = make(activations=args.activations) if args.activations else make()
        kwargs = {
            keyword: getattr(args, dest)
            for dest, keyword in ALGORITHM_OPTIONS.items()
            if getattr(args, dest, None) is not None
        }
        options = {}
        if args.ray_address:
            options["address"] = args.ray_address
        if args.gpus:
            options["gpus"] = args.gpus.split(",")
        kwargs.update(
            epochs_per_eval=args.epochs_per_eval,
            recipe=recipe_from_args(args),
            seed=args.seed,
            early_rejection=args.early_rejection,
            executor=args.executor,
            workers=args.workers,
            executor_options=options,
        )
        return cls(space, verbose=args.verbose, **kwargs)

    def check_data(self, args: argparse.Namespace, data) -> None:
        from automl_kit.utils.validation import check_training_data

        space = self.searcher.space
        if space.input_rank() != data.x_train.ndim:
            kind = "CNNs for images" if space.input_rank() == 4 else "dense nets for tables"
            fits = "dense" if data.x_train.ndim == 2 else "stages, compact or thesis"
            raise ValueError(
                f"the {args.space} space builds {kind} but {data.name} has samples of shape "
                f"{data.input_shape}; pick --space {fits}."
            )
        if args.rival == "textbook" and len(data.input_shape) != 3:
            raise ValueError(
                f"--rival textbook is a CNN for images; {data.name} has samples of shape "
                f"{data.input_shape}: drop --rival (auto) or pass --rival none for tables."
            )
        # what the search checks first (labels 0..K-1, every class in training), before the
        # run directory is written
        check_training_data(
            data.x_train, data.y_train, data.validation_data, rank=space.input_rank()
        )

    def run(self, args: argparse.Namespace, run, data) -> dict | None:
        from automl_kit.search import evolve

        searcher, space = self.searcher, self.searcher.space
        if args.verbose:
            print(
                f"evolve: {data!r}\n        {args.algorithm} on the {args.space} space "
                f"(phase-0 size {space.size(0):,}), run directory {run.root}",
                flush=True,
            )
        result = evolve(
            data,
            searcher,
            time_budget=args.time_budget,
            max_evaluations=args.max_evaluations,
            final_epochs=args.final_epochs,
            rival=args.rival,
            run_dir=run,
            resume=bool(args.resume),
            extend=bool(args.extend),
            seed=args.seed,
            verbose=args.verbose,
        )
        if result.from_earlier_run:  # an --extend that trained nothing: keep the result
            print(f"{run.root}: {result.stop_reason}.", flush=True)
            return None
        final = result.final
        print("best architecture:\n  " + "\n  ".join(result.describe()))
        print(
            f"validation fitness {result.best_fitness:.4f}; after final fit: validation "
            f"{final.best_val_accuracy:.4f}, test accuracy {final.test_accuracy:.4f} "
            f"({len(data.y_test)} samples)"
        )
        print(f"search stopped: {result.stop_reason or 'finished'}")
        if result.comparison is not None:
            print(result.comparison.verdict())
        return result.summary()


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Evolve().register(subparsers)
