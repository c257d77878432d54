"""A capability's method against the simple rival it was measured with in the same run.

Every command that trains the rival beside its method (``evolve`` the textbook CNN without
search, ``train --compare`` training without freezing) reports it the same way: both scores on
validation, which won and by how much, and, when the rival wins, how to get it.

>>> c = Comparison("searched model", 0.91, "textbook CNN", 0.93, hint="rival_model.keras")
>>> c.winner, round(c.difference_points, 2)
('textbook CNN', -2.0)
>>> c.verdict()
'textbook CNN beat searched model on validation: 0.9300 vs 0.9100 (searched model -2.00 points); use it: rival_model.keras'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Comparison:
    """``method`` and ``rival`` scored on the same validation split (higher is better unless
    ``higher_is_better=False``, e.g. an error); test scores once measured; ``hint`` says how to
    get the rival when it wins. With ``margin`` (e.g. one standard error of the difference) the
    rival is the default: the method wins only by more than ``margin``."""

    method: str
    method_score: float
    rival: str
    rival_score: float
    metric: str = "validation accuracy"
    method_test: float | None = None
    rival_test: float | None = None
    method_seconds: float | None = None
    rival_seconds: float | None = None
    hint: str = ""
    higher_is_better: bool = True
    margin: float | None = None

    @property
    def difference_points(self) -> float:
        """Method minus rival, in points (negative: the rival is ahead)."""
        return 100.0 * (self.method_score - self.rival_score)

    @property
    def winner(self) -> str:
        """The rival only when it is strictly ahead (a tie keeps the method), or, with a
        ``margin``, unless the method is ahead by more than it."""
        ahead = self.method_score - self.rival_score
        ahead = ahead if self.higher_is_better else -ahead
        if self.margin is not None:
            return self.method if ahead > self.margin else self.rival
        return self.rival if ahead < 0 else self.method

    def verdict(self) -> str:
        """One line: who won on validation and by how much (and the rival's hint if it won)."""
        if (
            self.margin is not None
            and self.winner == self.rival
            and self.method_score != self.rival_score
        ):
            ahead = self.method_score - self.rival_score
            if (ahead if self.higher_is_better else -ahead) > 0:
                line = (
                    f"{self.rival} kept: {self.method} was ahead on validation by only "
                    f"{abs(ahead):.4f} ({self.method_score:.4f} vs {self.rival_score:.4f}), within "
                    f"the margin {self.margin:.4f}"
                )
                return line + (f"; use it: {self.hint}" if self.hint else "")
        if self.method_score == self.rival_score:
            return f"{self.method} tied {self.rival} on validation: {self.method_score:.4f}"
        first, second = (
            (self.method, self.rival) if self.winner == self.method else (self.rival, self.method)
        )
        scores = {self.method: self.method_score, self.rival: self.rival_score}
        if self.higher_is_better:
            line = (
                f"{first} beat {second} on validation: {scores[first]:.4f} vs "
                f"{scores[second]:.4f} ({self.method} {self.difference_points:+.2f} points)"
            )
        else:
            line = (
                f"{first} beat {second} on validation: {scores[first]:.4g} vs "
                f"{scores[second]:.4g} ({self.metric}, lower is better)"
            )
        if self.method_seconds and self.rival_seconds:
            ratio = self.method_seconds / self.rival_seconds
            line += f"; {self.method_seconds:.0f} s vs {self.rival_seconds:.0f} s ({ratio:.2f}x the time)"
        if self.winner == self.rival and self.hint:
            line += f"; use it: {self.hint}"
        return line

    def summary(self) -> dict:
        return {
            **asdict(self),
            "difference_points": round(self.difference_points, 4),
            "winner": self.winner,
            "verdict": self.verdict(),
        }

    @classmethod
    def from_summary(cls, summary: dict) -> Comparison:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in summary.items() if k in fields})
