"""``automl-kit grow``: train a net that grows its own width (the dynamic-capacity experiments)."""

from __future__ import annotations

import argparse
from pathlib import Path

from automl_kit.cli.jobs import Job, positive_float, positive_int
from automl_kit.registries import GROWTH_TASK_DEFAULTS as DEFAULTS
from automl_kit.registries import OPTIMIZER_NAMES

SINE_METHODS = (
    "adaptive",
    "adaptive_keep_init",
    "grow_no_freeze",
    "net2net",
    "gradmax",
    "static_small",
    "static_large",
)
MNIST_METHODS = ("adaptive", "standard")
CIFAR_METHODS = (
    "adaptive",
    "grow_no_freeze",
    "net2net",
    "gradmax",
    "static_large",
    "static_small",
)
METHODS = {"sine": SINE_METHODS, "mnist": MNIST_METHODS, "cifar10": CIFAR_METHODS}


class Grow(Job):
    name = "grow"
    help = "train a net that grows its width on loss plateaus, freezing what it learned"
    description = (
        "Dynamic network capacity with partial freezing (the dynamic-capacity thesis, Ch. 4-5):\n"
        "the net starts at one chunk of its width and grows by a chunk whenever the moving\n"
        "average of the training loss stops improving, freezing what was active. Writes the\n"
        "capacity schedule (CSV, JSON, plot), the model and results.json.\n\n"
        "examples:\n"
        "  automl-kit grow --task sine --method adaptive --epochs 60\n"
        "  automl-kit grow --task mnist --method adaptive --n-train 6000 --epochs 5\n"
        "  automl-kit grow --task cifar10 --method adaptive --epochs 10\n"
        "  automl-kit grow --task cifar10 --data my_images/ --epochs 10   # the ResNet on your images\n"
        "  automl-kit grow --task cifar10 --rival none   # skip the static net trained beside it\n"
        "  automl-kit grow --resume runs/<timestamp>-grow   # continue a stopped run (Ctrl-C)"
    )
    uses_data = False  # sine makes its own data; the image tasks load theirs or --data in load()
    outputs = (
        "results.json",
        "capacity_schedule.csv",
        "capacity_schedule.json",
        "capacity.png",
        "model.keras",
        "rival_model.keras",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--task",
            choices=tuple(METHODS),
            default="sine",
            help="experiment; with --data, the net grown on your images: mnist (the conv net) "
            "or cifar10 (the small ResNet)",
        )
        parser.add_argument(
            "--data",
            metavar="PATH",
            default=None,
            help="your own images instead of the task's data set: an .npz (x_train, y_train[, "
            "x_test, y_test]) or a folder with one sub-folder of images per class",
        )
        parser.add_argument(
            "--method",
            default="adaptive",
            help="; ".join(f"{task}: {', '.join(m)}" for task, m in METHODS.items()),
        )
        parser.add_argument(
            "--rival",
            default="auto",
            help="the net trained beside the method with the same data and epochs, compared on "
            "validation (auto: the static large net, or the plain conv net on mnist; another "
            "method of the task; none to skip it)",
        )
        parser.add_argument(
            "--epochs",
            type=positive_int,
            default=None,
            help="default: sine 60, mnist 5, cifar10 10",
        )
        parser.add_argument(
            "--chunks",
            type=positive_int,
            default=None,
            help="chunks each layer's width is split into (it grows chunks - 1 times; sine 5, mnist 10, cifar10 4)",
        )
        parser.add_argument(
            "--widths",
            default="16,32,64",
            help="cifar10: the ResNet's stage widths, comma-separated",
        )
        parser.add_argument(
            "--normalize",
            action="store_true",
            help="cifar10: batch-normalise every convolution (frozen slices keep their statistics)",
        )
        parser.add_argument(
            "--width", type=positive_int, default=500, help="sine: full hidden width"
        )
        parser.add_argument(
            "--patience", type=positive_int, default=10, help="checks without improvement"
        )
        parser.add_argument("--interval", type=positive_int, default=4, help="batches per check")
        parser.add_argument(
            "--every",
            type=positive_int,
            default=None,
            help="cifar10: grow every N batches instead of on plateaus (the thesis's CIFAR rule)",
        )
        parser.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate")
        parser.add_argument(
            "--optimizer",
            type=str.lower,
            choices=OPTIMIZER_NAMES,
            default="adam",
            help="optimizer (the thesis: Adam)",
        )
        parser.add_argument(
            "--n-train",
            type=positive_int,
            default=None,
            help="training samples (sine 2048, mnist 6000, cifar10 all of the subset)",
        )
        parser.add_argument(
            "--n-test",
            type=positive_int,
            default=None,
            help="test samples (mnist 2000, cifar10 all)",
        )

    def validate(self, args: argparse.Namespace) -> None:
        methods = METHODS[args.task]
        if args.method not in methods:
            raise ValueError(
                f"--method {args.method!r} is not a {args.task} method; choose one of: "
                f"{', '.join(methods)}."
            )
        if args.rival not in ("auto", "none", *methods):
            raise ValueError(
                f"--rival {args.rival!r} is not a {args.task} method; choose auto, none or one "
                f"of: {', '.join(methods)}."
            )
        if args.normalize and "gradmax" in (args.method, args.rival):
            raise ValueError(
                "--normalize does not work with the gradmax start; pick another --method or "
                "--rival, or drop --normalize."
            )
        if args.data is not None:
            if args.task == "sine":
                raise ValueError(
                    "--data needs an image task: the sine task makes its own data; pass "
                    "--task mnist (the conv net) or --task cifar10 (the ResNet) with --data."
                )
            if not Path(args.data).expanduser().exists():
                raise FileNotFoundError(
                    f"--data {args.data}: no such file or folder; pass an .npz or an image folder."
                )
        explicit = set(getattr(args, "explicit", None) or ())
        ignored = [f"--{d}" for d in ("every", "widths", "normalize") if d in explicit]
        if args.task != "cifar10" and ignored:
            raise ValueError(
                f"{' and '.join(ignored)} shape{'s' if len(ignored) == 1 else ''} the cifar10 "
                f"ResNet only; drop {' and '.join(ignored)} or pass --task cifar10 "
                "(--width sets the sine net's width)."
            )
        chunks = args.chunks or DEFAULTS[args.task][1]
        if args.task == "sine" and chunks > args.width:
            raise ValueError(
                f"--chunks {chunks} is more than --width {args.width}; use fewer chunks."
            )
        if args.task == "cifar10":
            try:
                widths = [int(w) for w in args.widths.split(",")]
            except ValueError:
                widths = []
            if not widths or min(widths) < 1:
                raise ValueError(
                    f"--widths {args.widths!r} must be whole numbers >= 1, e.g. --widths 16,32,64."
                )
            if chunks > min(widths):
                raise ValueError(
                    f"--chunks {chunks} is more than the narrowest width {min(widths)}; "
                    "use fewer chunks or wider stages."
                )
            args.widths = tuple(widths)

    def load(self, args: argparse.Namespace):
        """``--data``, read and checked before the run folder is touched (else None: the task
        loads its own data set)."""
        if args.data is None:
            return None
        from automl_kit.datasets import load_data
        from automl_kit.utils.validation import check_split_labels

        data = load_data(args.data, n_train=args.n_train, n_test=args.n_test, seed=args.seed)
        if data.x_train.ndim != 4:
            raise ValueError(
                f"--data {args.data} holds samples of shape {data.x_train.shape[1:]}; grow's "
                "nets take images (height, width, channels): pass an image .npz or folder."
            )
        check_split_labels(
            data.y_train, data.y_val, y_test=data.y_test, class_names=data.class_names
        )
        return data

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.capacity import grow

        result = grow(
            args.task,
            args.method,
            seed=args.seed,
            data=data,
            epochs=args.epochs,
            chunks=args.chunks,
            width=args.width,
            widths=args.widths,
            normalize=args.normalize,
            learning_rate=args.lr,
            optimizer=args.optimizer,
            patience=args.patience,
            interval=args.interval,
            every=args.every,
            n_train=args.n_train,
            n_test=args.n_test,
            rival=args.rival,
            run_dir=run,  # checkpointed every epoch, so that --resume continues the run
            resume=bool(args.resume),
            verbose=args.verbose,
        )
        summary = result.summary()
        growths = len(summary["growth_steps"])
        label = args.task if data is None else f"{Path(args.data).name} ({args.task} net)"
        if args.task == "cifar10":
            print(
                f"{label}/{args.method}: test accuracy {summary['test_accuracy']:.4f}, "
                f"train - test gap {summary['gap']:+.4f}, {summary['seconds']:.1f} s, "
                f"{summary['flops']:.3g} training FLOPs, {growths} growths"
            )
        else:
            tested = (
                f"test accuracy {summary['test_accuracy']:.4f}, "
                if "test_accuracy" in summary
                else ""
            )
            print(
                f"{label}/{args.method}: {tested}final-10 loss {summary['final10_mean']:.5g} +- "
                f"{summary['final10_std']:.2g}, {summary['seconds']:.1f} s, {growths} growths"
            )
        if result.comparison is not None:
            print(result.comparison.verdict())
        return summary


def register(subparsers, common: argparse.ArgumentParser) -> None:
    Grow().register(subparsers)
