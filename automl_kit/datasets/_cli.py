"""``automl-kit datasets``: what data is available offline, with shapes and class counts."""

from __future__ import annotations

import argparse
import sys


def register(subparsers, common: argparse.ArgumentParser) -> None:
    from automl_kit.cli import HelpFormatter

    parser = subparsers.add_parser(
        "datasets",
        help="list the data sets, where they are available offline, shapes and class counts",
        description="List every data set `automl_kit.datasets.load` knows. Offline files are read "
        "from $AUTOML_KIT_DATA (or --data-dir); digits ships with scikit-learn. A file that "
        "cannot be read is marked broken, with the reason. With --data, describe your own data "
        "(an .npz file, an image folder or a table) as the other commands would read it.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--data-dir", default=None, help="folder with <name>.npz files (default: $AUTOML_KIT_DATA)"
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="describe this .npz file, image folder or .csv/.parquet table instead",
    )
    parser.add_argument(
        "--label", default=None, help="with --data and a table: the column holding the class"
    )
    parser.add_argument(
        "--no-details", action="store_true", help="skip reading files for shapes and class counts"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from automl_kit.datasets import data_dir_problem, list_datasets, load_data

    if args.data is not None:
        try:
            summary = load_data(args.data, label=args.label).summary()
        except (ValueError, OSError) as exc:
            print(f"automl-kit datasets: error: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            for key, value in summary.items():
                print(f"{key:<20}{value}")
        return 0
    problem = data_dir_problem(args.data_dir)
    if problem is not None:
        # One line for the folder, rather than "not found" for every file that would be in it.
        print(f"note: {problem}; listing what is available without it.", file=sys.stderr)
    rows = list_datasets(data_dir=args.data_dir, details=not args.no_details)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<16}{'offline':<9}{'input shape':<14}{'pool':>8}{'test':>8}  location / class counts (test)"
    print(header)
    print("-" * len(header))
    for row in rows:
        shape = "x".join(map(str, row.get("input_shape", []))) or "-"
        offline = {"broken": "BROKEN"}.get(row["status"], "yes" if row["offline"] else "no")
        print(
            f"{row['name']:<16}{offline:<9}{shape:<14}"
            f"{row.get('n_pool', '-'):>8}{row.get('n_test', '-'):>8}  {row['location']}"
        )
        if "class_counts_test" in row:
            print(f"{'':<55}{row['class_counts_test']}")
        if "error" in row:
            print(f"{'':<55}error: {row['error']}")
    return 0
