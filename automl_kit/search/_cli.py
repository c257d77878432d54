"""``automl-kit evolve``: the variable-length GA from the command line (mirrors ``VariableLengthGA``)."""

from __future__ import annotations

import argparse

SPACE_CHOICES = ("thesis", "compact", "dense")
CLI_FILE = "cli_args.json"


def register(subparsers, common: argparse.ArgumentParser) -> None:
    from automl_kit.cli import HelpFormatter

    parser = subparsers.add_parser(
        "evolve",
        parents=[common],
        help="search a CNN (or dense net) with the variable-length genetic algorithm",
        description=(
            "Variable-length GA architecture search (Xiao, thesis Part 2): models grow block by block, "
            "inheriting the best model's weights, until a new phase no longer helps; the best model is then "
            "trained to convergence and scored on the test set.\n\n"
            "example:\n  automl-kit evolve --dataset digits --space compact --time-budget 3m\n"
            "  automl-kit evolve --resume runs/20261123-101500-evolve"
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--dataset", default="digits", help="data set name (see `automl-kit datasets`)"
    )
    parser.add_argument(
        "--n-train",
        type=int,
        default=None,
        help="class-balanced training subset size (default: all)",
    )
    parser.add_argument(
        "--n-val", type=int, default=None, help="validation subset size (default: 10%% of the pool)"
    )
    parser.add_argument(
        "--n-test", type=int, default=None, help="test subset size (default: the full test set)"
    )
    parser.add_argument(
        "--space",
        choices=SPACE_CHOICES,
        default="thesis",
        help="thesis: Xiao Table 2.1 (GPU-sized); compact: channels<=64, kernels<=5 (CPU); dense: tabular",
    )
    parser.add_argument("--population", type=int, default=20, help="individuals per generation")
    parser.add_argument("--generations", type=int, default=5, help="generations per phase")
    parser.add_argument(
        "--epochs-per-eval", type=int, default=5, help="training epochs that define fitness"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size")
    parser.add_argument(
        "--max-phases",
        type=int,
        default=None,
        help="stop after this many phases (default: stopping rule only)",
    )
    parser.add_argument(
        "--phase-patience",
        type=int,
        default=None,
        help="grow to the next phase after this many generations without improvement (default: thesis)",
    )
    parser.add_argument(
        "--budget-phases",
        type=int,
        default=None,
        help="share the time budget among this many phases so that the search grows (default: thesis)",
    )
    parser.add_argument(
        "--stop-threshold",
        type=float,
        default=0.01,
        help="stop when a phase's best drops this far below the earlier best",
    )
    parser.add_argument(
        "--early-rejection",
        type=float,
        default=None,
        help="stop candidates whose epoch-1 accuracy is below this fraction of the phase median",
    )
    parser.add_argument(
        "--time-budget", default=None, help="wall-clock budget of the search, e.g. 90s, 30m, 2h"
    )
    parser.add_argument(
        "--max-evaluations", type=int, default=None, help="budget in trained candidates"
    )
    parser.add_argument(
        "--final-epochs",
        type=int,
        default=100,
        help="most epochs of the final fit (early stopping, patience 5)",
    )
    parser.add_argument(
        "--executor",
        choices=("serial", "process", "ray"),
        default="serial",
        help="where candidates train",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes/actors (default: CPU count)"
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="with --executor ray: an existing cluster (default: a local Ray)",
    )
    parser.add_argument(
        "--gpus",
        default=None,
        help="comma-separated GPU ids, one per worker (process/ray executors), e.g. 0,1",
    )
    parser.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue a killed search from its run directory",
    )
    parser.set_defaults(handler=run)


def _space(name: str):
    from automl_kit.search import CNNSpace, DenseSpace

    return {"thesis": CNNSpace, "compact": CNNSpace.compact, "dense": DenseSpace}[name]()


def run(args: argparse.Namespace) -> int:
    from automl_kit.datasets import load
    from automl_kit.search import VariableLengthGA
    from automl_kit.utils import RunDirectory, read_json, seed_everything, write_json

    if args.resume:
        run_dir = RunDirectory(args.resume)
        if not (run_dir.root / CLI_FILE).is_file():
            raise ValueError(
                f"cannot resume: {run_dir.root} holds no {CLI_FILE} of an earlier `automl-kit evolve`."
            )
        saved = read_json(run_dir.root / CLI_FILE)
        args = argparse.Namespace(
            **{**vars(args), **saved, "resume": args.resume, "quiet": args.quiet}
        )
    else:
        run_dir = RunDirectory.create("evolve", path=args.out)
        # how the data was drawn and the search set up, so --resume needs no other flags
        write_json(
            run_dir.path(CLI_FILE),
            {k: v for k, v in vars(args).items() if k not in ("handler", "resume", "out", "quiet")},
        )
    space = _space(args.space)
    seed_everything(args.seed)
    data = load(
        args.dataset, n_train=args.n_train, n_val=args.n_val, n_test=args.n_test, seed=args.seed
    )
    if space.input_rank() != data.x_train.ndim:
        raise ValueError(
            f"the {args.space} space builds {'CNNs for images' if space.input_rank() == 4 else 'dense nets for tables'} "
            f"but {args.dataset} has samples of shape {data.input_shape}; pick another --space."
        )
    ga = VariableLengthGA(
        space,
        population=args.population,
        generations=args.generations,
        epochs_per_eval=args.epochs_per_eval,
        batch_size=args.batch_size,
        seed=args.seed,
        max_phases=args.max_phases,
        stop_threshold=args.stop_threshold,
        phase_patience=args.phase_patience,
        budget_phases=args.budget_phases,
        early_rejection=args.early_rejection,
        executor=args.executor,
        workers=args.workers,
        executor_options=_executor_options(args),
        quiet=args.quiet,
    )
    if not args.quiet:
        print(
            f"evolve: {data!r}\n        space {args.space} (phase-0 size {space.size(0):,}), population {args.population}, "
            f"{args.generations} generations per phase, run directory {run_dir.root}",
            flush=True,
        )
    result = ga.search(
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        time_budget=args.time_budget,
        max_evaluations=args.max_evaluations,
        run_dir=run_dir,
        resume=bool(args.resume),
    )
    if not args.quiet:
        print(
            f"search done: {result.stop_reason or 'finished'}; best fitness {result.best_fitness:.4f} after "
            f"{result.evaluations} evaluations; final fit (up to {args.final_epochs} epochs)...",
            flush=True,
        )
    final = result.final_fit(
        data.x_train,
        data.y_train,
        validation_data=data.validation_data,
        max_epochs=args.final_epochs,
        verbose=0 if args.quiet else 2,  # one line per epoch
    )
    test_loss, test_accuracy = final.model.evaluate(data.x_test, data.y_test, verbose=0)
    final.model.save(run_dir.path("final_model.keras"))
    run_dir.write_results(
        {
            **result.summary(),
            "dataset": data.summary(),
            "final_fit_epochs": final.epochs,
            "final_val_accuracy": final.best_val_accuracy,
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
        }
    )
    print("best architecture:\n  " + "\n  ".join(result.describe()))
    print(
        f"validation fitness {result.best_fitness:.4f}; after final fit: validation {final.best_val_accuracy:.4f}, "
        f"test accuracy {test_accuracy:.4f} ({len(data.y_test)} images)"
    )
    print(
        f"results: {run_dir.root}/results.json, history.csv, best_chromosome.json, best_architecture.txt, fitness.png, final_model.keras"
    )
    return 0


def _executor_options(args) -> dict:
    options = {}
    if args.ray_address:
        options["address"] = args.ray_address
    if args.gpus:
        options["gpus"] = args.gpus.split(",")
    return options
