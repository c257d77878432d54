"""A job's budget: wall-clock time and/or a number of evaluations, one definition of "spent".

Every loop that may run long (a search's evaluations, a layout GA's generations) holds a
``Budget``: ``start()`` when the work begins, ``count()`` each finished evaluation, ``check()`` at
its safe points. The share spent is the larger of the time and evaluation shares,

    used = min(1, max(elapsed / time, counted / evaluations)),

so a budgeted loop can pace itself (the variable-length GA's ``budget_phases``).

>>> budget = Budget(evaluations=4).start()
>>> budget.count(3); budget.used()
0.75
>>> budget.count(); budget.check()
Traceback (most recent call last):
...
automl_kit.utils.budget.BudgetExhausted: evaluation budget of 4 spent
"""

from __future__ import annotations

import math
import time as _time

from automl_kit.utils.progress import parse_duration


class BudgetExhausted(Exception):
    """Raised by :meth:`Budget.check` once the time or evaluation budget is spent."""


class Budget:
    """Time (seconds or ``"90s"``/``"30m"``/``"2h"``) and/or evaluations; both optional.

    The time budget counts from :meth:`start` (a resumed job gets it afresh); the evaluation
    budget counts every evaluation passed to :meth:`count` or to ``start(spent=...)``, those of
    an earlier, resumed run included.
    """

    def __init__(self, time: str | float | None = None, evaluations: int | None = None):
        seconds = _checked_seconds(time)
        if evaluations is not None:
            if isinstance(evaluations, bool) or int(evaluations) != evaluations or evaluations < 1:
                raise ValueError(
                    f"the evaluation budget must be a whole number of at least 1, got {evaluations!r}."
                )
            evaluations = int(evaluations)
        self.seconds, self.max_evaluations = seconds, evaluations
        self.spent = 0
        self._started: float | None = None

    # ---- the clock and the counter -------------------------------------------------------
    def start(self, spent: int = 0) -> Budget:
        """Start the clock; ``spent`` evaluations were already counted (a resumed run)."""
        self._started = _time.time()
        self.spent = int(spent)
        return self

    def count(self, n: int = 1) -> None:
        """Count ``n`` finished evaluations."""
        self.spent += n

    def elapsed(self) -> float:
        return 0.0 if self._started is None else _time.time() - self._started

    @property
    def deadline(self) -> float | None:
        """Absolute ``time.time()`` at which the time budget ends; ``None`` without one."""
        if self.seconds is None:
            return None
        return (self._started or _time.time()) + self.seconds

    @property
    def remaining_seconds(self) -> float | None:
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - self.elapsed())

    @property
    def remaining_evaluations(self) -> int | None:
        if self.max_evaluations is None:
            return None
        return max(0, self.max_evaluations - self.spent)

    # ---- decisions -----------------------------------------------------------------------
    def used(self) -> float | None:
        """Share spent in [0, 1], the larger of time and evaluations; ``None`` without a budget."""
        shares = []
        if self.seconds is not None:
            shares.append(self.elapsed() / self.seconds)
        if self.max_evaluations is not None:
            shares.append(self.spent / self.max_evaluations)
        return min(1.0, max(shares)) if shares else None

    def exhausted(self) -> bool:
        return (self.used() or 0.0) >= 1.0

    def check(self) -> None:
        """Raise :class:`BudgetExhausted` (with :meth:`message`) once the budget is spent."""
        if self.exhausted():
            raise BudgetExhausted(self.message())

    def message(self) -> str:
        """Which budget ran out, in words."""
        if self.max_evaluations is not None and self.spent >= self.max_evaluations:
            return f"evaluation budget of {self.max_evaluations} spent"
        if self.seconds is not None:
            return f"time budget of {self.seconds:.0f} s spent"
        return "no budget set"

    def get_config(self) -> dict:
        return {"time": self.seconds, "evaluations": self.max_evaluations}

    @classmethod
    def from_config(cls, config: dict) -> Budget:
        return cls(**config)

    def __bool__(self) -> bool:
        """Whether any limit is set."""
        return self.seconds is not None or self.max_evaluations is not None

    def __repr__(self) -> str:
        return f"Budget(time={self.seconds!r}, evaluations={self.max_evaluations!r})"


def _checked_seconds(value: str | float | None) -> float | None:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"time budget: {exc}") from None
    if seconds is not None and not math.isfinite(seconds):
        raise ValueError(
            f"the time budget must be a finite positive duration, got {value!r}; "
            "write e.g. 90, '90s', '30m' or '2h'."
        )
    return seconds
