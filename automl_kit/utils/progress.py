"""Line-based progress with an ETA: readable in terminals, notebooks and CI logs alike."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Print one line per finished step: ``[3/10] 00:42 elapsed, ETA 01:38 | best=0.91``.

    ``total=None`` means the length is unknown (no ETA); ``verbose=0`` prints nothing.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        label: str = "",
        verbose: int = 1,
        stream: TextIO | None = None,
    ):
        self.total = total
        self.label = label
        self.verbose = verbose
        self.stream = stream
        self.done = 0
        self._start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def eta(self) -> float | None:
        if not self.total or not self.done:
            return None
        return self.elapsed() / self.done * max(0, self.total - self.done)

    def step(self, message: str = "", n: int = 1) -> None:
        self.done += n
        self.write(message)

    def write(self, message: str) -> None:
        if not self.verbose:
            return
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        eta = self.eta()
        timing = (
            format_seconds(self.elapsed())
            + " elapsed"
            + (f", ETA {format_seconds(eta)}" if eta is not None else "")
        )
        prefix = f"{self.label} " if self.label else ""
        stream = self.stream or sys.stdout
        print(
            f"{prefix}[{count}] {timing}" + (f" | {message}" if message else ""),
            file=stream,
            flush=True,
        )

    def info(self, message: str) -> None:
        """A free-form line (no step counted), silenced by ``verbose=0`` like the rest."""
        if self.verbose:
            print(message, file=self.stream or sys.stdout, flush=True)


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"1.5h"``; None stays None.

    >>> parse_duration("30m")
    1800.0
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        try:
            seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            raise ValueError(
                f"cannot read duration {value!r}; write e.g. 90, '90s', '30m' or '2h'."
            )
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}.")
    return seconds
