"""Learning-rate schedules by epoch, where Keras's own (``keras.optimizers.schedules``) cannot serve.

Keras's schedules map the optimizer's step count to a rate; these map the epoch, and also name
the stages (runs of epochs at one rate) that a policy plans per (e.g. IntelligentFreezing).
"""

from __future__ import annotations

from collections.abc import Sequence


class StepDecay:
    """Step decay: ``initial * factor**k`` after the k-th milestone epoch (thesis: 0.1/0.01/0.001).

    Not ``keras.optimizers.schedules.PiecewiseConstantDecay``: that counts optimizer steps, whose
    number per epoch is unknown before ``fit``, and cannot tell a policy where a stage starts.

    >>> schedule = StepDecay(0.1, milestones=(150, 250))
    >>> [round(schedule(epoch), 6) for epoch in (0, 150, 349)]
    [0.1, 0.01, 0.001]
    """

    def __init__(self, initial: float = 0.1, milestones: Sequence[int] = (), factor: float = 0.1):
        milestones = tuple(int(m) for m in milestones)
        if initial <= 0:
            raise ValueError(f"initial learning rate must be positive, got {initial}.")
        if any(m <= 0 for m in milestones) or list(milestones) != sorted(set(milestones)):
            raise ValueError(
                f"milestones must be increasing positive epochs, got {milestones}; e.g. (150, 250)."
            )
        self.initial, self.milestones, self.factor = float(initial), milestones, float(factor)

    @classmethod
    def for_epochs(
        cls, epochs: int, initial: float = 0.1, fractions: Sequence[float] = (0.5, 0.75)
    ) -> StepDecay:
        """Milestones at fractions of a run, e.g. 0.5/0.75 of 12 epochs -> (6, 9)."""
        milestones = sorted({int(round(f * epochs)) for f in fractions} - {0})
        return cls(initial, [m for m in milestones if m < epochs])

    def stage(self, epoch: int) -> int:
        """How many milestones ``epoch`` has passed (0 in the first stage)."""
        return sum(epoch >= m for m in self.milestones)

    def stage_start(self, epoch: int) -> int:
        """The first epoch of ``epoch``'s stage."""
        stage = self.stage(epoch)
        return 0 if stage == 0 else self.milestones[stage - 1]

    def __call__(self, epoch: int) -> float:
        return self.initial * self.factor ** self.stage(epoch)

    def get_config(self) -> dict:
        return {"initial": self.initial, "milestones": list(self.milestones), "factor": self.factor}

    @classmethod
    def from_config(cls, config: dict) -> StepDecay:
        """The inverse of :meth:`get_config`.

        >>> StepDecay.from_config(StepDecay(0.1, (3, 6)).get_config())
        StepDecay(initial=0.1, milestones=(3, 6), factor=0.1)
        """
        return cls(**config)

    def __repr__(self) -> str:
        return (
            f"StepDecay(initial={self.initial}, milestones={self.milestones}, factor={self.factor})"
        )
