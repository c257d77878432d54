"""The ``automl-kit`` command: one subcommand per capability, mirroring the Python API.

Each capability registers its subcommands from its own ``_cli.py``; heavy imports
(TensorFlow) happen inside the handlers so ``automl-kit --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from automl_kit import __version__

# Modules that define ``register(subparsers, common)``; a new capability adds one line.
COMMAND_MODULES = (
    "automl_kit.datasets._cli",
    "automl_kit.search._cli",
    "automl_kit.freezing._cli",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the examples in descriptions as written."""


def common_options() -> argparse.ArgumentParser:
    """Options every job shares: where results go, seeding and verbosity."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("run options")
    group.add_argument(
        "--out", default=None, help="run directory (default: runs/<timestamp>-<command>/)"
    )
    group.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed for data subsets, initialisation and search",
    )
    group.add_argument("--quiet", action="store_true", help="print only the final summary")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl-kit",
        description="Keras 3 toolkit: architecture search, faster training and model diagnosis.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"automl-kit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(
        "TF_CPP_MIN_LOG_LEVEL", "2"
    )  # TensorFlow's C++ start-up chatter hides our output
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        # Bad input: the message already says what to fix; a traceback would bury it.
        print(f"automl-kit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
