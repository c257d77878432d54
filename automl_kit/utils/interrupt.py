"""Ctrl-C that stops a long job at its next safe point instead of wherever it lands.

Inside ``graceful_interrupt()`` the first SIGINT only sets a flag: loops (search generations,
candidate evaluations, training epochs) call :func:`raise_if_stop_requested` at their safe points,
after checkpointing, and the CLI turns :class:`Interrupted` into one line and exit code 130. A
second SIGINT raises ``KeyboardInterrupt`` at once. Outside the context manager nothing changes.

>>> from automl_kit.utils.interrupt import graceful_interrupt, stop_requested
>>> with graceful_interrupt():
...     stop_requested()
False
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

EXIT_CODE = 130  # the shell's code for "ended by SIGINT"

_requested = threading.Event()


class Interrupted(Exception):
    """The user asked the job to stop (Ctrl-C); its state was saved at a safe point."""


def stop_requested() -> bool:
    """Whether Ctrl-C was pressed inside ``graceful_interrupt()`` and not yet handled."""
    return _requested.is_set()


def raise_if_stop_requested(where: str = "") -> None:
    """Raise :class:`Interrupted` at a safe point once a stop was requested."""
    if _requested.is_set():
        raise Interrupted(f"stopped by Ctrl-C{f' {where}' if where else ''}")


def request_stop() -> None:
    """Ask for a stop as the first Ctrl-C does (for tests and for embedding programs)."""
    _requested.set()


def _handler(signum, frame) -> None:
    if _requested.is_set():
        raise KeyboardInterrupt
    _requested.set()
    print(
        "\nstopping at the next safe point (press Ctrl-C again to stop at once)...",
        file=sys.stderr,
        flush=True,
    )


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[None]:
    """Install the two-stage SIGINT handler for the duration of a job (main thread only)."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()
