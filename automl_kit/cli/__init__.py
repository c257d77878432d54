"""The ``automl-kit`` command: one subcommand per capability, mirroring the Python API.

Each capability registers its subcommands from its own ``_cli.py`` (most as a
:class:`automl_kit.cli.jobs.Job`); heavy imports (TensorFlow) happen inside the handlers,
so ``automl-kit --help`` stays instant and prints no TensorFlow log.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from automl_kit import __version__
from automl_kit.cli.jobs import HelpFormatter, Parser, explicit_options
from automl_kit.utils.logs import quiet_tensorflow, restore_environment

# Modules that define ``register(subparsers, common)``; a new capability adds one line.
COMMAND_MODULES = (
    "automl_kit.datasets._cli",
    "automl_kit.search._cli",
    "automl_kit.freezing._cli",
    "automl_kit.tweak._cli",
    "automl_kit.diagnose._cli",
    "automl_kit.capacity._cli",
    "automl_kit.ehr._cli",
    "automl_kit.knowledge._cli",
    "automl_kit.auto._cli",
)


def common_options() -> argparse.ArgumentParser:
    """A parent parser for commands that are not jobs (jobs add their run options themselves)."""
    return argparse.ArgumentParser(add_help=False)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="automl-kit",
        description="Keras 3 toolkit: architecture search, faster training and model diagnosis.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"automl-kit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    for module in COMMAND_MODULES:
        _command_module(module).register(subparsers, common)
    return parser


def _attach_dash_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--time-budget -5m`` -> ``--time-budget=-5m``, so that the value reaches its check.

    argparse reads a value starting with ``-`` as the next option and reports a missing
    argument; joining it to its option lets the option's own check name the real problem.
    """
    takes_value, options = set(), set()
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            options.update(action.option_strings)
            if action.option_strings and action.nargs is None and action.type is not None:
                takes_value.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    joined: list[str] = []
    for token in argv:
        if (
            joined
            and joined[-1] in takes_value
            and token.startswith("-")
            and token.split("=")[0] not in options
        ):
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


def _command_module(name: str) -> ModuleType:
    """Import a capability's ``_cli.py`` without running its package's ``__init__``.

    ``automl_kit.search`` and ``automl_kit.freezing`` import TensorFlow in their
    ``__init__``; their ``_cli.py`` modules do not, so loading them by path keeps
    ``automl-kit --help`` instant and silent. An already imported module is reused.
    """
    if name in sys.modules:
        return sys.modules[name]
    package, _, _ = name.rpartition(".")
    if package in sys.modules or package == "automl_kit":
        return importlib.import_module(name)
    package_root = Path(__file__).resolve().parents[1]  # the automl_kit folder
    path = package_root.joinpath(*name.split(".")[1:]).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # later `import automl_kit.search._cli` gets this same module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def main(argv: list[str] | None = None) -> int:
    previous: dict = {}
    try:
        parser = build_parser()
        argv = _attach_dash_values(parser, sys.argv[1:] if argv is None else list(argv))
        args = parser.parse_args(argv)
        args.explicit = explicit_options(parser, argv)
        if getattr(args, "verbose", 1) < 2:
            # TensorFlow's C++ log would bury our progress lines (also in spawned workers)
            previous = quiet_tensorflow()
        try:
            return int(args.handler(args) or 0)
        except (ValueError, FileNotFoundError) as exc:
            # Bad input: the message already says what to fix; a traceback would bury it.
            print(f"automl-kit {args.command}: error: {exc}", file=sys.stderr)
            return 2
    finally:
        restore_environment(previous)


__all__ = ["HelpFormatter", "build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
