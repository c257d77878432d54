"""``automl-kit train``: train a zoo model with a freezing policy (mirrors ``FreezingTrainer``)."""

from __future__ import annotations

import argparse
import time


def register(subparsers, common: argparse.ArgumentParser) -> None:
    from automl_kit.cli import HelpFormatter
    from automl_kit.freezing.policies import POLICIES
    from automl_kit.zoo import list_models

    parser = subparsers.add_parser(
        "train",
        parents=[common],
        help="train a zoo model with intelligent layer freezing (or a rival policy)",
        description=(
            "Train with SGD + step decay while a policy freezes leading layers (Xiao, thesis Part 3);\n"
            "logs frozen layers, freezing rates and epoch times, plots them, scores the test set.\n\n"
            "example:\n  automl-kit train --model resnet20 --dataset cifar10 --freezing intelligent --epochs 12"
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--model", default="resnet20", choices=list_models(), help="zoo architecture"
    )
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier of the model")
    parser.add_argument(
        "--dataset", default="cifar10", help="data set name (see `automl-kit datasets`)"
    )
    parser.add_argument(
        "--n-train", type=int, default=None, help="training subset size (default: all)"
    )
    parser.add_argument(
        "--n-val", type=int, default=None, help="validation size (default: 10%% of the pool)"
    )
    parser.add_argument("--n-test", type=int, default=None, help="test subset size (default: all)")
    parser.add_argument(
        "--freezing", default="intelligent", choices=sorted(POLICIES), help="policy"
    )
    parser.add_argument("--epochs", type=int, default=12, help="training epochs")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch size")
    parser.add_argument(
        "--lr", type=float, default=0.1, help="initial SGD learning rate (momentum 0.9)"
    )
    parser.add_argument(
        "--milestones",
        default="0.5,0.75",
        help="step decay x0.1 at these fractions of the epochs ('' for a constant rate)",
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl_kit.datasets import load
    from automl_kit.freezing import POLICIES, FreezingTrainer, StepDecay
    from automl_kit.freezing.plots import plot_freezing_rates, plot_frozen_prefix
    from automl_kit.utils import RunDirectory, seed_everything
    from automl_kit.zoo import build_model

    try:
        fractions = [float(f) for f in args.milestones.split(",") if f.strip()]
    except ValueError:
        raise ValueError(
            f"--milestones takes comma-separated fractions such as 0.5,0.75, got {args.milestones!r}."
        ) from None
    run_dir = RunDirectory.create("train", path=args.out)
    run_dir.write_config({k: v for k, v in vars(args).items() if k != "handler"})
    seed_everything(args.seed)
    data = load(
        args.dataset, n_train=args.n_train, n_val=args.n_val, n_test=args.n_test, seed=args.seed
    )
    if len(data.input_shape) != 3:
        raise ValueError(
            f"zoo models take images; {args.dataset} has samples of shape {data.input_shape}."
        )
    model = build_model(args.model, data.input_shape, data.num_classes, width=args.width)
    import keras

    trainer = FreezingTrainer(
        model,
        keras.optimizers.SGD(args.lr, momentum=0.9),
        schedule=StepDecay.for_epochs(args.epochs, args.lr, fractions),
        policy=POLICIES[args.freezing](),
        frozen_batchnorm=args.frozen_batchnorm,
        record_rates=args.record_rates,
    )
    if not args.quiet:
        print(
            f"train: {data!r}\n       {args.model} (width {args.width}, {model.count_params():,} parameters), "
            f"policy {trainer.policy!r}, run directory {run_dir.root}",
            flush=True,
        )
    started = time.perf_counter()
    trainer.fit(
        data.x_train,
        data.y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=data.validation_data,
        verbose=0 if args.quiet else 2,
    )
    seconds = time.perf_counter() - started
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    trainer.save_log(run_dir.root)
    summary = trainer.callback.summary()
    plots = ["frozen_prefix.png"]
    plot_frozen_prefix(summary, run_dir.path("frozen_prefix.png"))
    if any(row["freezing_rates"] is not None for row in summary["epochs"]):
        plot_freezing_rates(summary, run_dir.path("freezing_rates.png"))
        plots.append("freezing_rates.png")
    model.save(run_dir.path("model.keras"))
    frozen_epochs = sum(row["frozen_layers"] > 0 for row in summary["epochs"])
    run_dir.write_results(
        {
            "dataset": data.summary(),
            "model": args.model,
            "policy": summary["policy"],
            "train_seconds": seconds,
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "epochs_with_freezing": frozen_epochs,
        }
    )
    print(
        f"trained {args.epochs} epochs in {seconds:.1f} s ({frozen_epochs} with frozen layers); "
        f"test accuracy {test_accuracy:.4f} ({len(data.y_test)} images)"
    )
    print(
        f"results: {run_dir.root}/results.json, freezing_log.csv, freezing.json, {', '.join(plots)}, model.keras"
    )
    return 0
