"""Keep TensorFlow's C++ start-up log out of the user's terminal; real errors still get through.

TensorFlow 2.21 writes its start-up notices (``WARNING: All log messages before
absl::InitializeLog() ...``, ``I0000 ... port.cc] oneDNN custom operations ...``,
``cpu_feature_guard``, CUDA stub notices) from C++ straight to file descriptor 2 while
``import tensorflow`` runs, before any log level is read, so no environment variable hides
them. :func:`quiet_tensorflow` therefore (1) sets ``TF_CPP_MIN_LOG_LEVEL=3``, which does
silence the later C++ lines (``cuInit`` failures, ``node_def_util.cc`` attribute notices),
(2) runs the first ``import tensorflow`` with descriptor 2 sent to a temporary file and
replays every captured line that is not one of those notices, and (3) marks the environment
so that spawned worker processes (which import TensorFlow afresh) do the same when they
import ``automl_kit``. Python warnings, errors and tracebacks are never filtered.

``AUTOML_KIT_TF_LOGS=1`` turns all of this off, for debugging TensorFlow itself.

The CLI calls :func:`quiet_tensorflow` first thing. Python API users get the same through
:func:`quiet_library_import`, which ``import automl_kit`` runs (without importing TensorFlow):
the first ``import tensorflow`` after it (the one automl_kit makes when a capability is used)
keeps its start-up notices to itself, unless the user chose otherwise: ``AUTOML_KIT_TF_LOGS=1``,
their own ``TF_CPP_MIN_LOG_LEVEL`` (left as it is, notices and all), or TensorFlow imported
before automl_kit (its log is set up by then).

>>> from automl_kit.utils.logs import is_tensorflow_noise
>>> is_tensorflow_noise("I0000 00:00:1795681569.308089    5390 cudart_stub.cc:31] Could not find cuda")
True
>>> is_tensorflow_noise("ValueError: x has 3 samples")
False
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

QUIET_ENV = "AUTOML_KIT_QUIET_TF"  # set for child processes: "1" = silence TensorFlow there too
OPT_OUT_ENV = "AUTOML_KIT_TF_LOGS"  # "1" = leave TensorFlow's logging alone

_NOISE = re.compile(
    "|".join(
        (
            r"^WARNING: All log messages before absl::InitializeLog\(\)",
            # glog/absl prefix: severity+date, time, thread id, source file:line]
            r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+\.(cc|h|cpp):\d+\]",
            r"^To enable the following instructions: .*rebuild TensorFlow",
            r"oneDNN custom operations are on",
            r"cpu_feature_guard",
            r"failed call to cuInit",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation placer already registered",
        )
    )
)


def is_tensorflow_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's C++ log notices (never a Python error)."""
    return bool(_NOISE.search(line))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Send descriptor 2 to a temporary file for the block, then replay all but TF's notices.

    Works on the descriptor, so C++ writes are caught too; when descriptor 2 cannot be
    duplicated (a closed or unusual stderr), the block runs unfiltered.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if not is_tensorflow_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader so that its module body runs under :func:`filtered_stderr`."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with filtered_stderr():
                self.loader.exec_module(module)
        finally:
            # put the real loader back so that nothing downstream sees the wrapper
            module.__loader__ = self.loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self.loader
        _quiet_python_loggers()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Catches the first ``import tensorflow`` (also the one ``import keras`` makes)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        _remove_finder()  # once is enough; also keeps find_spec below from recursing
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowImport)]


def _quiet_python_loggers() -> None:
    # TensorFlow's Python side logs deprecation notices at WARNING through `logging`
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def quiet_tensorflow(*, children: bool = True) -> dict[str, str | None]:
    """Silence TensorFlow's C++ notices in this process (and, with ``children``, its workers).

    Call before TensorFlow is first imported (the CLI does it first thing); afterwards only
    the environment part still helps. Returns the environment values it replaced, for
    :func:`restore_environment`. Does nothing when ``AUTOML_KIT_TF_LOGS=1``.
    """
    if os.environ.get(OPT_OUT_ENV) == "1":
        return {}
    wanted = {"TF_CPP_MIN_LOG_LEVEL": "3"}
    if children:
        wanted[QUIET_ENV] = "1"
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    if "tensorflow" in sys.modules:
        _quiet_python_loggers()
    elif not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
    return previous


def restore_environment(previous: dict[str, str | None]) -> None:
    """Undo the environment changes of :func:`quiet_tensorflow` (for in-process callers)."""
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _remove_finder()


def quiet_child_process() -> None:
    """In a worker started by a quiet parent (``AUTOML_KIT_QUIET_TF=1``): be quiet as well."""
    if os.environ.get(QUIET_ENV) == "1" and os.environ.get(OPT_OUT_ENV) != "1":
        quiet_tensorflow(children=False)


def quiet_library_import() -> bool:
    """At ``import automl_kit``: quiet TensorFlow's first import unless the user chose otherwise.

    Does nothing with ``AUTOML_KIT_TF_LOGS=1``, with ``TF_CPP_MIN_LOG_LEVEL`` already set (the
    user's choice; a quiet parent's workers still follow :func:`quiet_child_process`), or when
    TensorFlow is already imported. Otherwise it is :func:`quiet_tensorflow`: the variable is
    set to 3 for this process and its workers and the first import is filtered. Returns
    whether it quieted anything.
    """
    if os.environ.get(QUIET_ENV) == "1":  # a worker of a quiet parent (CLI or library)
        quiet_child_process()
        return os.environ.get(OPT_OUT_ENV) != "1"
    if (
        os.environ.get(OPT_OUT_ENV) == "1"
        or "TF_CPP_MIN_LOG_LEVEL" in os.environ
        or "tensorflow" in sys.modules
    ):
        return False
    quiet_tensorflow(children=True)
    return True


__all__ = [
    "filtered_stderr",
    "is_tensorflow_noise",
    "quiet_child_process",
    "quiet_library_import",
    "quiet_tensorflow",
    "restore_environment",
]
