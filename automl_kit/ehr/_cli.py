"""``automl-kit ehr``: EHR tables to images, a layout GA, and a CNN-boosted tree model."""

from __future__ import annotations

import argparse
from pathlib import Path

from automl_kit.cli.jobs import Job, duration, positive_float, positive_int
from automl_kit.registries import BOOSTER_COMBINE_NAMES

BASES = ("rf", "xgb", "cat")


class EHR(Job):
    name = "ehr"
    path_options = frozenset({"events", "patients"})
    help = "map EHR tables to images (layout GA) and boost a tree model with a CNN"
    description = (
        "Xiao, thesis Part 5: relations P(rx|dx), a permutation GA that puts treatments beside\n"
        "their diagnoses, patient images (windows as channels), a CNN combined with a tree model.\n"
        "Writes the layout (layout.json, layout.png), the GA fitness curve, example patient\n"
        "images, a results table, and the models: EHRImageMapper.load(run_dir) and\n"
        "CNNBoostedClassifier.load(run_dir/'model') (the CNN as .keras; an XGBoost/CatBoost\n"
        "base model in its own format; a random forest (--base rf) is not saved).\n\n"
        "examples:\n"
        "  automl-kit ehr --simulate 5000 --generations 500\n"
        "  automl-kit ehr --diabetes --base cat\n"
        "  automl-kit ehr --events events.csv --patients patients.csv --lookback-days 360"
    )
    uses_data = False
    safe_on_resume = frozenset({"time_budget"})
    outputs = (
        "results.json",
        "results.csv",
        "layout.json",
        "layout_history.csv",
        "fitness.png",
        "patients.png",
        "layout.png",
        "image_scale.json",
        "relations.npy",
        "model/cnn.keras",
        "model/booster.json",
        "model/mapper/",
        "model/base_model.json",
        "model/base_model.cbm",
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        data = parser.add_argument_group("data")
        data.add_argument("--events", metavar="PATH", help="events table (.csv/.parquet)")
        data.add_argument("--patients", metavar="PATH", help="patient table (.csv/.parquet)")
        data.add_argument(
            "--lookback-days", type=positive_int, help="window length before each index date"
        )
        data.add_argument("--n-windows", type=positive_int, default=3, help="time windows")
        data.add_argument(
            "--simulate", type=positive_int, metavar="N", help="a simulated cohort of N patients"
        )
        data.add_argument(
            "--diabetes",
            action="store_true",
            help="the UCI diabetes readmission data from $AUTOML_KIT_DATA/diabetes_130us",
        )
        data.add_argument(
            "--test-size", type=positive_float, default=0.3, help="test share, split by patient"
        )
        layout = parser.add_argument_group("layout")
        layout.add_argument(
            "--layout",
            default="ga",
            choices=("ga", "random", "embedding", "igtd"),
            help="how codes are placed on the image grid: ga (permutation GA on the relations), "
            "random, embedding (related codes near each other) or igtd",
        )
        layout.add_argument("--width", type=positive_int, default=None, help="grid width")
        layout.add_argument("--height", type=positive_int, default=None, help="grid height")
        layout.add_argument(
            "--scope",
            default="window",
            choices=("claim", "window", "patient"),
            help="co-occurrence unit of P(rx|dx)",
        )
        layout.add_argument("--generations", type=positive_int, default=1000, help="GA generations")
        layout.add_argument("--population", type=positive_int, default=60, help="GA population")
        layout.add_argument("--time-budget", type=duration, default=None, help="GA time budget")
        model = parser.add_argument_group("model")
        model.add_argument("--base", default="xgb", choices=BASES, help="base tree model")
        model.add_argument(
            "--combine",
            default="rank_average",
            choices=BOOSTER_COMBINE_NAMES,
            help="how the CNN joins the trees: rank_average of the two scores; stacker (a "
            "logistic regression on both logits, fitted on a held-out split); cnn_feature (the "
            "CNN's out-of-fold logit as one more column for the trees)",
        )
        model.add_argument(
            "--weight",
            type=_weight,
            default="auto",
            help="base model's share of the rank average in [0, 1], or 'auto' (default: chosen "
            "by validation AUPRC on a held-out split, the base model alone unless the CNN adds "
            "something there; with cnn_feature, the stacked trees only if they beat the base "
            "alone there)",
        )
        model.add_argument(
            "--cnn-epochs",
            type=positive_int,
            default=10,
            help="CNN epochs at most (early stopping)",
        )
        model.add_argument(
            "--balance",
            type=positive_float,
            default=0.5,
            help="share of positives after overlay augmentation (Eq. 5.2)",
        )
        model.add_argument(
            "--n-confusing", type=int, default=0, help="training examples dropped (Alg. 4)"
        )

    def validate(self, args: argparse.Namespace) -> None:
        tables = args.events is not None or args.patients is not None
        sources = [tables, args.simulate is not None, bool(args.diabetes)]
        if sum(sources) > 1:
            raise ValueError(
                "pass one source: --simulate N, --diabetes or --events/--patients, not both."
            )
        if not any(sources):
            raise ValueError(
                "pass --events PATH --patients PATH --lookback-days DAYS, --simulate N or --diabetes."
            )
        if tables:
            if args.events is None or args.patients is None:
                raise ValueError("--events and --patients go together: pass both tables.")
            for flag_, path in (("--events", args.events), ("--patients", args.patients)):
                if not Path(path).expanduser().is_file():
                    raise FileNotFoundError(
                        f"{flag_} {path}: no such file; pass a .csv or .parquet."
                    )
            if args.lookback_days is None:
                raise ValueError(
                    "--lookback-days is needed with --events: the window length before each "
                    "index date, e.g. --lookback-days 360."
                )
        elif args.lookback_days is not None:
            raise ValueError(
                "--lookback-days applies to --events/--patients; the simulated cohort and the "
                "diabetes data have their own windows: drop it."
            )
        explicit = set(getattr(args, "explicit", None) or ())
        if args.simulate is not None and "n_windows" in explicit:
            raise ValueError(
                "--n-windows does not apply to --simulate (the cohort has 3 windows over 360 "
                "days): drop it, or pass your own tables with --events/--patients."
            )
        if not 0 < args.test_size < 1:
            raise ValueError(f"--test-size is a share in (0, 1), got {args.test_size}.")
        if not 0 < args.balance < 1:
            raise ValueError(f"--balance is a share of positives in (0, 1), got {args.balance}.")
        if args.n_confusing < 0:
            raise ValueError(f"--n-confusing must be >= 0, got {args.n_confusing}.")

    def load(self, args: argparse.Namespace):
        """The EHR tables, read and checked before the run folder is touched."""
        if args.verbose:
            print(f"ehr: loading {self._source(args)} ...", flush=True)
        return self._tables(args)

    def run(self, args: argparse.Namespace, run, tables) -> dict:
        from automl_kit.ehr import boost

        if args.diabetes and args.verbose:
            print(
                "  note: most diabetes patients have a single encounter, so their images use one "
                "window only (patients.png looks mostly blue).",
                flush=True,
            )
        options = {}
        if args.layout == "ga":
            options = {
                "generations": args.generations,
                "population": args.population,
                "time_budget": args.time_budget,
            }
        result = boost(
            tables,
            base=args.base,
            layout=args.layout,
            layout_options=options,
            width=args.width,
            height=args.height,
            scope=args.scope,
            combine=args.combine,
            weight=args.weight,
            cnn_epochs=args.cnn_epochs,
            balance=args.balance,
            n_confusing=args.n_confusing,
            test_size=args.test_size,
            seed=args.seed,
            run_dir=run,
            resume=bool(args.resume),
            verbose=args.verbose,
        )
        saved = sorted(p.name for p in (run.root / "model").iterdir())
        print(f"ehr: models saved in {run.root / 'model'}: {', '.join(saved)}", flush=True)
        for row in result.rows:
            cells = ", ".join(
                f"{k} {v:.3f}" for k, v in row.items() if k not in ("model", "combine")
            )
            label = f"{row['model']} ({row['combine']})" if row["combine"] else row["model"]
            print(f"{label:>32}: {cells}")
        return result.summary()

    @staticmethod
    def _source(args) -> str:
        if args.simulate is not None:
            return f"a simulated cohort of {args.simulate} patients"
        if args.diabetes:
            return "the UCI diabetes data"
        return f"events {args.events}, patients {args.patients}"

    @staticmethod
    def _tables(args):
        from automl_kit.datasets import check_ehr_tables, diabetes_events, ehr_cohort

        if args.simulate is not None:
            return ehr_cohort(args.simulate, seed=args.seed)
        if args.diabetes:
            return diabetes_events(n_windows=args.n_windows, seed=args.seed)
        return check_ehr_tables(
            args.events, args.patients, lookback_days=args.lookback_days, n_windows=args.n_windows
        )


def _weight(text: str):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1] or 'auto', got {text!r}")
    return value


def register(subparsers, common: argparse.ArgumentParser) -> None:
    EHR().register(subparsers)
