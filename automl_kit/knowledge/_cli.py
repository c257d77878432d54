"""``automl-kit pkgcn``: two-stage training with a class-graph head vs. the plain CNN (Xiao, Part 4)."""

from __future__ import annotations

import argparse

from automl_kit.cli.jobs import Job, positive_float, positive_int
from automl_kit.registries import TWO_STAGE_OPTIMIZER_NAMES

BASES = ("cnn1", "cnn2", "vgg")
# heads trained beside PK-GCN from the same stage 1 (label smoothing, the rival, always runs)
CONTROLS = ("dense_control", "pkgcn1_smoothed", "pkgcn2_smoothed", "self_distillation")


def _controls(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONTROLS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown control {unknown[0]!r}; choose from {', '.join(CONTROLS)} (comma-separated)"
        )
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"each control once, got {text!r}")
    return names


class Pkgcn(Job):
    name = "pkgcn"
    help = "add a class-similarity graph head (PK-GCN) to a CNN and compare with the plain CNN"
    description = (
        "Stage 1 trains a base CNN; its validation mistakes form a directed class graph; stage 2\n"
        "replaces the Dense(K) head by a graph convolution over the classes (PK-GCN-1/2, Xiao,\n"
        "thesis Part 4) while the baseline trains on for the same epochs with the same optimizer.\n"
        "Label smoothing, the simpler rival, trains from the same stage 1; every method is\n"
        "scored on the validation set; model.keras is label smoothing's model unless another\n"
        "method beat it there by more than a standard error (results.json says which, and by\n"
        "how much PK-GCN won or lost against label smoothing).\n"
        "Writes the accuracy table (accuracy.csv), the graph (graph.png, graph.json), model.keras,\n"
        "two_stage.json and results.json.\n"
        "Without --n-val the validation set is as large as --n-train (as in the thesis's tables;\n"
        "this overrides the generic --n-val default below). The dense control is matched to the\n"
        "parameter count of the PK-GCN variant run.\n\n"
        "example:\n  automl-kit pkgcn --dataset mnist --n-train 500 --variant 2"
    )
    default_dataset = "mnist"
    outputs = (
        "results.json",
        "accuracy.csv",
        "two_stage.json",
        "graph.png",
        "graph.json",
        "model.keras",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--variant", type=int, choices=(1, 2), default=1, help="PK-GCN-1 or -2")
        parser.add_argument(
            "--base",
            choices=BASES,
            default="cnn1",
            help="base model: cnn1/cnn2 (one/two conv layers, thesis base models 1/2), vgg (small VGG)",
        )
        parser.add_argument("--stage1-epochs", type=positive_int, default=20, help="stage-1 epochs")
        parser.add_argument(
            "--stage2-epochs",
            type=positive_int,
            default=20,
            help="stage-2 epochs (the baseline trains as many more)",
        )
        parser.add_argument("--batch-size", type=positive_int, default=64, help="batch size")
        parser.add_argument(
            "--optimizer",
            choices=TWO_STAGE_OPTIMIZER_NAMES,
            default="recipe",
            help="optimizer of both stages (a fresh one in stage 2 for every method): recipe "
            "(the shared recipe: AdamW, warm-up and cosine decay over each stage) or the "
            "thesis's adadelta, adam, sgd",
        )
        parser.add_argument(
            "--lr",
            type=positive_float,
            default=None,
            help="learning rate (default: recipe 0.003 peak, adadelta 1.0, adam 0.001, sgd 0.01)",
        )
        parser.add_argument(
            "--soft",
            action="store_true",
            help="soft counts: sum predicted probabilities instead of counting argmax mistakes",
        )
        parser.add_argument(
            "--normalize",
            choices=("rate", "count"),
            default="rate",
            help="edge weights: confusion rate per true class, or raw counts",
        )
        parser.add_argument(
            "--direction",
            choices=("symmetric", "directed", "transposed"),
            default="symmetric",
            help="directed: class i aggregates from the classes it is mistaken for; transposed: "
            "from those mistaken as i; symmetric: both, averaged",
        )
        parser.add_argument(
            "--initializer",
            choices=("glorot_uniform", "warm"),
            default="glorot_uniform",
            help="GCN weights: random as in the thesis, or warm (stage 2 starts at the base scores)",
        )
        parser.add_argument(
            "--units-l",
            type=positive_int,
            default=None,
            help="PK-GCN-2: half the width of the Dense layer q (default: the embedding size)",
        )
        parser.add_argument(
            "--controls",
            type=_controls,
            default=None,
            help="also train these from the same stage 1 (comma-separated; default: none): "
            "dense_control (an extra Dense layer with as many parameters as the PK-GCN head), "
            "pkgcn1_smoothed/pkgcn2_smoothed (PK-GCN with label smoothing), self_distillation "
            "(the labels mixed with the model's own softened predictions)",
        )

    def validate(self, args: argparse.Namespace) -> None:
        if args.units_l is not None and args.variant != 2:
            raise ValueError(
                "--units-l sets the width of PK-GCN-2's Dense layer (Eq. 4.5); PK-GCN-1 has "
                "none: drop --units-l or pass --variant 2."
            )
        if args.n_val is None and args.n_train is not None:
            args.n_val = args.n_train  # the thesis's "train|validation" sizes are equal (Table 4.4)

    def check_data(self, args: argparse.Namespace, data) -> None:
        if len(data.input_shape) != 3:
            raise ValueError(
                f"pkgcn's base CNNs take images; {data.name} has samples of shape "
                f"{data.input_shape}: pass an image data set (e.g. --dataset mnist)."
            )
        if len(data.y_val) < data.num_classes:
            raise ValueError(
                f"the validation set has {len(data.y_val)} samples for {data.num_classes} classes; "
                "the class graph needs more: raise --n-val."
            )

    def run(self, args: argparse.Namespace, run, data) -> dict:
        from automl_kit.knowledge.builders import base_cnn, small_vgg
        from automl_kit.knowledge.experiments import compare_two_stage, method_name

        if args.base == "vgg":
            base = small_vgg(data.input_shape, data.num_classes)
        else:
            base = base_cnn(data.input_shape, data.num_classes, n_conv=int(args.base[-1]))
        if args.resume:
            print(
                "pkgcn keeps no checkpoint: --resume runs the job again from its start with the "
                "saved settings (the same seed gives the same result).",
                flush=True,
            )
        method = f"pkgcn{args.variant}"
        heads = ["none", method, "label_smoothing", *(args.controls or [])]
        if args.verbose:
            print(
                f"pkgcn: {data!r}\n       base {args.base} ({base.count_params():,} parameters), "
                f"{args.stage1_epochs}+{args.stage2_epochs} epochs, methods "
                f"{', '.join(method_name(h) for h in heads)}, graph "
                f"{'soft' if args.soft else 'hard'} counts ({args.normalize}), direction "
                f"{args.direction}, run directory {run.root}",
                flush=True,
            )
        result = compare_two_stage(
            base,
            data,
            heads=heads,
            stage1_epochs=args.stage1_epochs,
            stage2_epochs=args.stage2_epochs,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            batch_size=args.batch_size,
            soft=args.soft,
            normalize=args.normalize,
            direction=args.direction,
            units_l=args.units_l,
            initializer=args.initializer,
            control_match=method,  # the dense control matches the variant run
            seed=args.seed,
            verbose=args.verbose,
            return_models=True,
        )
        models = result.pop("models")
        winner = result["winner"]
        models[winner].save(run.path("model.keras"))
        result.save(run.root, class_names=data.class_names)  # accuracy.csv, graph.json/.png
        rows = result.accuracy_rows()
        print(
            f"{'method':<18} {'val acc':>8} {'test acc':>9} {'gain (points)':>13}  (stage 1: "
            f"{result['stage1']['test_accuracy']:.4f}, {result['graph_edges']} graph edges, "
            f"{len(data.y_val)} validation / {len(data.y_test)} test samples)"
        )
        for row in rows:
            mark = "  <- kept, saved as model.keras" if row["head"] == winner else ""
            print(
                f"{row['method']:<18} {row['val_accuracy']:>8.4f} {row['test_accuracy']:>9.4f} "
                f"{row['gain_points']:>+13.2f}{mark}"
            )
        verdict = result.verdict(method)
        print(f"pkgcn: {verdict}")
        return {
            "dataset": data.summary(),
            "base": args.base,
            "accuracy": rows,
            "verdict": verdict,
            **result.summary(),
        }


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = Pkgcn().register(subparsers)
    # the shared data/run options describe other commands' defaults; say what pkgcn does
    # (argparse has no public accessor for an option already added)
    for action in parser._actions:
        if action.dest == "n_val":
            action.help = (
                "validation subset size (default: as large as --n-train, else 10%% of the pool)"
            )
        elif action.dest == "seed":
            action.help = "random seed for data subsets, initialisation and batch order"
