"""The job scaffold every ``automl-kit`` command shares, so that a capability's ``_cli.py`` is one screen.

A :class:`Job` declares its own options, checks and work; the scaffold adds and handles the rest:

* data options: ``--dataset NAME`` or ``--data PATH`` (an ``.npz``, a class-per-folder image
  directory, or a ``.csv``/``.parquet`` table with ``--label COLUMN``), ``--n-train/--n-val/--n-test``;
* run options: ``--seed``, ``--out``, ``--resume DIR``, ``--overwrite``, ``--verbose/--quiet``;
* the order that keeps runs safe: every argument is checked before data is loaded; the folder
  (``RunDirectory.check``: ownership, a corrupt ``run.json``, a live job's lock), the data and
  its fit to the job (:meth:`Job.load`, :meth:`Job.check_data`) are checked before the run directory is created or
  changed; it is then claimed through ``RunDirectory.claim`` (lock, ``run.json``); a folder this
  call created is removed again when the job fails before any work, so no stub blocks the
  corrected command; the arguments are saved (on resume too, with the budgets given then) so
  ``--resume DIR`` needs no other flags; ``results.json`` is written and the run marked finished at the end,
  followed by one ``results: DIR/...`` line;
* resume rules: saved arguments come from the run directory; options passed again are applied
  when the job lists them as safe (a budget, verbosity, workers) and refused otherwise, naming
  them; a finished run is reported and left alone unless the job supports ``--extend``, whose
  budgets replace the earlier ones (a budget not given again no longer applies);
  network addresses (``never_saved``) are used only when given on the command line again;
* Ctrl-C: the first stops at the job's next safe point (:mod:`automl_kit.utils.interrupt`),
  marks the run stopped and prints ``stopped; resume with: automl-kit CMD --resume DIR``
  (exit 130); bad input (``ValueError``, ``FileNotFoundError``) and a full disk give one line
  and exit 2, never a traceback.

This module imports no TensorFlow, so ``automl-kit --help`` stays instant.

>>> import argparse
>>> class Hello(Job):
...     name, uses_data = "hello", False
...     def run(self, args, run, data):
...         return {"greeting": "hello"}
>>> parser = Parser(prog="automl-kit")
>>> _ = Hello().register(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["hello", "--seed", "3"]).seed
3
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from automl_kit.utils.interrupt import (
    EXIT_CODE as INTERRUPTED_EXIT_CODE,
)
from automl_kit.utils.interrupt import (
    Interrupted,
    graceful_interrupt,
    raise_if_stop_requested,
)
from automl_kit.utils.io import read_json
from automl_kit.utils.progress import parse_duration

ERROR_EXIT_CODE = 2
RESULTS_FILE = "results.json"
RUN_FILE = "run.json"
# How to run, not what: never saved with a run, never compared when resuming.
RUN_OPTIONS = frozenset(
    {"handler", "command", "out", "resume", "overwrite", "extend", "verbose", "explicit"}
)
DATA_OPTIONS = ("dataset", "data", "label", "n_train", "n_val", "n_test")
_FULL_DISK = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors: the problem and where to look, no usage block."""

    def error(self, message: str):
        self.exit(ERROR_EXIT_CODE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows defaults (unless the help already says it) and keeps examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            # identity, not equality: a default of 0 is shown, False and None are not
            or any(action.default is v for v in (None, False, argparse.SUPPRESS))
            or action.option_strings == []
            or isinstance(action, argparse._StoreConstAction)
        ):
            return text
        return text + " (default: %(default)s)"


# ---- argument types: each names the fix, and argparse reports it in one line --------------
def positive_int(text: str) -> int:
    """An integer >= 1 (epochs, batch sizes, sample counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, widths)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (thresholds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1] (a share or an accuracy difference: ``0.01`` for one point)."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in [0, 1] such as 0.01 for one percentage point, got {text!r}"
        )
    return value


def duration(text: str) -> str:
    """A positive, finite duration such as ``90``, ``90s``, ``30m``, ``2h`` (kept as written)."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None
    if seconds is None or not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(
            f"cannot read duration {text!r}; write e.g. 90, '90s', '30m' or '2h'"
        )
    return text


def flag(dest: str) -> str:
    """``"n_train"`` -> ``"--n-train"``."""
    return "--" + dest.replace("_", "-")


def explicit_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """The option destinations given on the command line ``argv`` (not left at their defaults).

    Parses ``argv`` a second time with every default suppressed, so an option given with its
    default value still counts as given.
    """
    saved: list[tuple[Any, str, Any]] = []
    stack = [parser]
    while stack:
        current = stack.pop()
        saved.append((current, "_defaults", current._defaults))
        current._defaults = {}
        for action in current._actions:
            saved.append((action, "default", action.default))
            action.default = argparse.SUPPRESS
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    try:
        namespace = parser.parse_args(argv)
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
    return set(vars(namespace)) - {"command"}


def run_status(path: str | Path) -> str | None:
    """``"running"``, ``"stopped"`` or ``"finished"`` from ``run.json``; older runs count as
    finished when they hold ``results.json``; ``None`` when ``path`` holds no run."""
    root = Path(path)
    if (root / RUN_FILE).is_file():
        try:
            return str(read_json(root / RUN_FILE).get("status"))
        except ValueError:
            return None
    if (root / RESULTS_FILE).is_file():
        return "finished"
    return None


def run_owner(path: str | Path) -> str | None:
    """The command that owns the run directory ``path``, when ``run.json`` says."""
    try:
        return read_json(Path(path) / RUN_FILE).get("command")
    except (OSError, ValueError):
        return None


class Job:
    """One ``automl-kit`` command. Subclasses set the attributes and write :meth:`run`.

    ``run(args, run, data)`` does the work and returns the results dict (saved as
    ``results.json``); it prints its own summary lines. :meth:`add_arguments` adds the job's
    options; :meth:`validate` checks them (raise ``ValueError`` naming the fix) before data is
    loaded or a run directory opened.
    """

    name: str = ""
    help: str = ""
    description: str = ""
    default_dataset: str | None = "digits"
    uses_data: bool = True
    args_file: str = "config.json"  # where the arguments are saved for --resume
    safe_on_resume: frozenset[str] = frozenset()  # options that may change when resuming
    never_saved: frozenset[str] = frozenset()  # network addresses: used only when passed again
    # input files saved as absolute paths: --resume finds them from anywhere, and `w/m.keras`
    # given again as `./w/m.keras` is the same file
    path_options: frozenset[str] = frozenset({"data"})
    can_extend: bool = False  # whether --extend continues a finished run
    budget_options: frozenset[str] = frozenset()  # dropped by an --extend that does not give them
    outputs: tuple[str, ...] = ()  # files listed on the final "results:" line when present

    # ---- to override --------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the job's own options."""

    def validate(self, args: argparse.Namespace) -> None:
        """Check the job's options together; raise ``ValueError`` naming the fix."""

    def run(self, args: argparse.Namespace, run, data) -> dict:
        raise NotImplementedError

    # ---- the scaffold -------------------------------------------------------------------
    def register(self, subparsers) -> argparse.ArgumentParser:
        """Add this job as a subcommand with its own, the data and the run options."""
        parser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=self.description or self.help,
            formatter_class=HelpFormatter,
        )
        self.add_arguments(parser)
        if self.uses_data:
            add_data_options(parser, self.default_dataset)
        add_run_options(parser, extend=self.can_extend)
        parser.set_defaults(handler=self)
        return parser

    def __call__(self, args: argparse.Namespace) -> int:
        return self.execute(args)

    def execute(self, args: argparse.Namespace) -> int:
        """Check, load data, open the run directory, run, save results; the exit code.

        Everything that can refuse the job (arguments, the folder, the data and its fit to the
        job) is checked before the run directory is created or changed; a folder this call
        created is removed again when the job fails before doing any work, so the corrected
        command can use the same ``--out``.
        """
        from automl_kit.utils.rundir import RunDirectory

        run = None
        try:
            explicit = set(getattr(args, "explicit", None) or ())
            self._check_run_options(args, explicit)
            if args.resume:
                self._check_owner(Path(args.resume))
                # corrupt run.json, another command's run, a live job: before anything is read
                RunDirectory.check(args.resume, self.name, resume=True, cli=True)
                # refuses changed flags, even when finished
                args = self.resumed_args(args, explicit)
                if run_status(args.resume) == "finished" and not getattr(args, "extend", False):
                    print(self._finished_message(Path(args.resume)), flush=True)
                    return 0
            target = args.resume or args.out
            if target is not None and not args.resume:
                # a live job's lock or another run: refused at once, before validate() may
                # import TensorFlow
                RunDirectory.check(target, self.name, overwrite=bool(args.overwrite), cli=True)
            if self.uses_data:
                check_data_options(args)
            self.validate(args)
            with graceful_interrupt(), notes_as_lines():
                from automl_kit.utils.seeding import seed_everything

                seed_everything(args.seed)
                data = self.load(args)
                raise_if_stop_requested("after loading the data")
                with RunDirectory.claim(
                    target,
                    self.name,
                    resume=bool(args.resume),
                    overwrite=bool(args.overwrite),
                    cli=True,
                    # the arguments before run.json: a run killed at any moment resumes; saved
                    # on resume too, so a budget given with --resume holds for later resumes
                    first_files={self.args_file: self.saved_args(args)},
                ) as run:
                    results = self.run(args, run, data)
                    if results is not None:  # None: nothing new was done (an empty --extend)
                        run.write_results(results)
            files = [name for name in self.outputs if (run.root / name).exists()]
            print(f"results: {run.root}/{', '.join(files or [RESULTS_FILE])}", flush=True)
            return 0
        except (Interrupted, KeyboardInterrupt):
            if run is None or run.outcome == "restored":
                print("stopped before the run started; nothing was changed.", file=sys.stderr)
                return INTERRUPTED_EXIT_CODE
            kept = f" (the run it replaces stays in {run.replaced} until it finishes)"
            print(
                f"stopped; resume with: automl-kit {self.name} --resume {run.root}"
                f"{kept if run.replaced.is_dir() else ''}",
                file=sys.stderr,
                flush=True,
            )
            return INTERRUPTED_EXIT_CODE
        except (OSError, ValueError) as exc:
            restored = ""
            if run is not None and run.outcome == "restored":
                restored = f" ({run.root} keeps its earlier run, unchanged)"
            if run is not None and run.outcome in ("restored", "removed"):
                run = None  # nothing of this call is left to resume
            if getattr(exc, "errno", None) in _FULL_DISK or isinstance(exc, PermissionError):
                _error(self.name, self._write_failure(exc, run, args) + restored)
            elif isinstance(exc, (ValueError, FileNotFoundError)):
                # Bad input: the message already says what to fix; a traceback would bury it.
                _error(self.name, str(exc) + restored)
            else:
                raise
            return ERROR_EXIT_CODE

    def load(self, args: argparse.Namespace):
        """The job's input, loaded and checked before the run directory is touched: the data
        set (with :meth:`check_data`) for jobs that use one, else None; override to read other
        inputs (tables, models) here, raising ``ValueError`` naming the fix."""
        from automl_kit.utils.validation import check_split_labels

        if not self.uses_data:
            return None
        data = load_data(args)
        check_split_labels(
            data.y_train, data.y_val, y_test=data.y_test, class_names=data.class_names
        )
        self.check_data(args, data)
        return data

    def check_data(self, args: argparse.Namespace, data) -> None:
        """Check the loaded data fits the job (raise ``ValueError`` naming the fix); runs before
        the run directory is created."""

    def _write_failure(self, exc: OSError | ValueError, run, args) -> str:
        """One line for a full disk or a refused write: what, and how to go on."""
        full = getattr(exc, "errno", None) in _FULL_DISK
        if isinstance(exc, ValueError):  # RunDirectory's DiskFullError already names the file
            what = str(exc).split(". ")[0].rstrip(".")
        else:
            where = exc.filename or (run.root if run is not None else args.out or "runs/")
            what = (
                f"could not write {where} ({'no space left on device' if full else exc.strerror})"
            )
        fix = "free space" if full else "fix the permissions"
        if run is None:
            return f"{what}; {fix} and run again."
        return f"{what}; {fix} and resume with: automl-kit {self.name} --resume {run.root}"

    def saved_args(self, args: argparse.Namespace) -> dict:
        """What ``--resume`` needs to redo the run: every option but the run options."""
        saved = {
            k: v
            for k, v in vars(args).items()
            if k not in RUN_OPTIONS and k not in self.never_saved
        }
        for option in self.path_options:
            if saved.get(option):
                saved[option] = str(Path(saved[option]).expanduser().resolve())
        return saved

    def resumed_args(self, args: argparse.Namespace, explicit: set[str]) -> argparse.Namespace:
        """The saved arguments, with the safe options given now applied; unsafe changes refused."""
        root = Path(args.resume)
        path = root / self.args_file
        if not path.is_file():
            raise ValueError(
                f"cannot resume: {root} holds no {self.args_file} of an earlier "
                f"`automl-kit {self.name}` run; pass the run directory that command printed."
            )
        saved = read_json(path)
        current = vars(args)
        normalised = self.saved_args(args)
        changed = []
        for dest in sorted(explicit - RUN_OPTIONS - self.safe_on_resume - self.never_saved):
            if dest in saved and saved[dest] == normalised.get(dest, current.get(dest)):
                continue  # given again with the same value: nothing changes
            changed.append(f"{flag(dest)} (saved: {saved.get(dest)!r}, given: {current[dest]!r})")
        if changed:
            safe = ", ".join(flag(d) for d in sorted(self.safe_on_resume)) or "none"
            raise ValueError(
                f"cannot change {'; '.join(changed)} when resuming {root}: the run was made with "
                f"the saved values. Drop them to resume, or start a new run with --out. "
                f"Options that may change on resume: {safe}."
            )
        merged = {**current}
        merged.update(
            {k: v for k, v in saved.items() if k not in RUN_OPTIONS and k not in self.never_saved}
        )
        if getattr(args, "extend", False):
            # an extension is a new budget: the budgets not given now no longer apply
            merged.update({dest: None for dest in self.budget_options})
        merged.update({dest: current[dest] for dest in explicit if dest in current})
        merged["resume"] = str(root)
        return argparse.Namespace(**merged)

    def _check_run_options(self, args: argparse.Namespace, explicit: set[str]) -> None:
        if getattr(args, "extend", False) and not args.resume:
            raise ValueError("--extend continues a finished run: use it with --resume DIR.")
        if args.resume and args.overwrite:
            raise ValueError("--resume continues a run and --overwrite empties it: pass one.")
        if args.resume and args.out and Path(args.out).resolve() != Path(args.resume).resolve():
            raise ValueError(
                f"--resume {args.resume} writes into its own run directory; drop --out {args.out}."
            )

    def _check_owner(self, root: Path) -> None:
        if not root.is_dir():
            raise ValueError(
                f"cannot resume: {root} is not a run directory; pass the folder that "
                f"`automl-kit {self.name}` printed on its 'results:' or 'stopped' line."
            )
        owner = run_owner(root)
        if owner and owner != self.name:
            raise ValueError(
                f"cannot resume {root} with `automl-kit {self.name}`: it holds an "
                f"`automl-kit {owner}` run; resume it with `automl-kit {owner} --resume {root}`."
            )

    def _finished_message(self, root: Path) -> str:
        extend = (
            " To search further, add --extend with a new budget (e.g. --extend --time-budget 5m)."
            if self.can_extend
            else " Start a new run with --out to train again."
        )
        return (
            f"{root}: this {self.name} run is finished; nothing to do "
            f"(results: {root / RESULTS_FILE}).{extend}"
        )


# ---- shared option groups ---------------------------------------------------------------
def add_data_options(parser: argparse.ArgumentParser, default_dataset: str | None) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        default=default_dataset,
        help="a registered data set (see `automl-kit datasets`)",
    )
    group.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="your own data instead of --dataset: an .npz (x_train, y_train[, x_test, y_test]), "
        "a folder with one sub-folder of images per class, or a .csv/.parquet table with --label",
    )
    group.add_argument(
        "--label", default=None, metavar="COLUMN", help="the label column of a --data table"
    )
    group.add_argument(
        "--n-train",
        type=positive_int,
        default=None,
        help="class-balanced training subset size (default: all)",
    )
    group.add_argument(
        "--n-val",
        type=positive_int,
        default=None,
        help="validation subset size (default: 10%% of the pool)",
    )
    group.add_argument(
        "--n-test",
        type=positive_int,
        default=None,
        help="test subset size (default: the full test set)",
    )


def add_run_options(parser: argparse.ArgumentParser, *, extend: bool = False) -> None:
    group = parser.add_argument_group("run")
    group.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="random seed for data subsets, initialisation and search",
    )
    group.add_argument(
        "--out", default=None, help="run directory (default: runs/<timestamp>-<command>/)"
    )
    group.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue a stopped or killed run from its directory (its saved options are used)",
    )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="empty --out first when it already holds a run",
    )
    if extend:
        group.add_argument(
            "--extend",
            action="store_true",
            help="with --resume: continue a finished run under a new budget; the budgets given "
            "with --extend replace the earlier ones, and one not given no longer applies (a "
            "time-only --extend lifts an earlier --max-evaluations cap)",
        )
    verbosity = group.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v",
        "--verbose",
        dest="verbose",
        action="store_const",
        const=2,
        default=1,
        help="also print TensorFlow's own log (hidden by default)",
    )
    verbosity.add_argument(
        "-q",
        "--quiet",
        dest="verbose",
        action="store_const",
        const=0,
        help="print only the final summary",
    )


def check_data_options(args: argparse.Namespace) -> None:
    """``--data`` and ``--label`` make sense together; the path exists."""
    if args.data is None:
        if args.label is not None:
            raise ValueError(
                "--label names the label column of a --data table; pass --data PATH too."
            )
        if not args.dataset:
            raise ValueError("pass --dataset NAME or --data PATH.")
        return
    if "dataset" in (getattr(args, "explicit", None) or ()):
        raise ValueError("pass --dataset NAME or --data PATH, not both.")
    args.dataset = None  # the saved arguments then name one source
    if not Path(args.data).expanduser().exists():
        raise FileNotFoundError(
            f"--data {args.data}: no such file or folder; pass an .npz, an image folder or a .csv."
        )


def load_data(args: argparse.Namespace):
    """The ``Dataset`` the data options name (``--data`` wins over ``--dataset``)."""
    from automl_kit.datasets import load_data as load

    kwargs: dict[str, Any] = {
        "n_train": args.n_train,
        "n_val": args.n_val,
        "n_test": args.n_test,
        "seed": args.seed,
    }
    if args.label is not None:
        kwargs["label"] = args.label
    with notes_as_lines():
        return load(args.data or args.dataset, **kwargs)


@contextlib.contextmanager
def notes_as_lines() -> Iterator[None]:
    """Show what was done on the user's behalf (a ``DataWarning``: uint8 scaled to [0, 1]; a
    ``RunNote``: a torn log line dropped) as one ``note: ...`` line, at once and also under
    ``--quiet``, without Python's source echo; other warnings are shown as usual."""
    from automl_kit.utils.rundir import RunNote
    from automl_kit.utils.validation import DataWarning

    notes = (DataWarning, RunNote)
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, notes):
                print(f"note: {message}", flush=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        for category in notes:
            warnings.simplefilter("always", category)
        yield


def options_given(args: argparse.Namespace, dests: Iterable[str]) -> list[str]:
    """Which of ``dests`` have a value (not ``None``) in ``args``."""
    return [d for d in dests if getattr(args, d, None) is not None]


def _error(command: str, message: str) -> None:
    print(f"automl-kit {command}: error: {message}", file=sys.stderr, flush=True)


__all__ = [
    "HelpFormatter",
    "Job",
    "Parser",
    "add_data_options",
    "add_run_options",
    "duration",
    "explicit_options",
    "flag",
    "fraction",
    "load_data",
    "notes_as_lines",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "run_status",
]
