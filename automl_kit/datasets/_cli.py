"""``automl-kit datasets``: what data is available offline, with shapes and class counts."""

from __future__ import annotations

import argparse


def register(subparsers, common: argparse.ArgumentParser) -> None:
    from automl_kit.cli import HelpFormatter

    parser = subparsers.add_parser(
        "datasets",
        help="list the data sets, where they are available offline, shapes and class counts",
        description="List every data set `automl_kit.datasets.load` knows. Offline files are read "
        "from $AUTOML_KIT_DATA (or --data-dir); digits ships with scikit-learn.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--data-dir", default=None, help="folder with <name>.npz files (default: $AUTOML_KIT_DATA)"
    )
    parser.add_argument(
        "--no-details", action="store_true", help="skip reading files for shapes and class counts"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from automl_kit.datasets import list_datasets

    rows = list_datasets(data_dir=args.data_dir, details=not args.no_details)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<16}{'offline':<9}{'input shape':<14}{'pool':>8}{'test':>8}  location / class counts (test)"
    print(header)
    print("-" * len(header))
    for row in rows:
        shape = "x".join(map(str, row.get("input_shape", []))) or "-"
        print(
            f"{row['name']:<16}{'yes' if row['offline'] else 'no':<9}{shape:<14}"
            f"{row.get('n_pool', '-'):>8}{row.get('n_test', '-'):>8}  {row['location']}"
        )
        if "class_counts_test" in row:
            print(f"{'':<55}{row['class_counts_test']}")
        if "error" in row:
            print(f"{'':<55}error: {row['error']}")
    return 0
