"""What the peers share: the depth bound, knowing whether the search resumes, their small state."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from automl_kit.search.base import Searcher, SearchState


@dataclasses.dataclass
class PeerState(SearchState):
    """A peer's checkpoint: the tuner keeps its trials in its own storage; this counts them."""

    trials: int = 0


class PeerSearcher(Searcher):
    """A ``Searcher`` whose proposals come from another library's tuner, kept in the run directory.

    Subclasses keep the tuner's own state (a KerasTuner project, an Optuna storage) under
    ``run_dir`` and reload it when ``search(resume=True)``; if it cannot be reloaded they raise a
    ``ValueError`` rather than silently starting again. Trials the tuner already ended are not
    trained again (their evaluations are in ``evaluations.jsonl``).
    """

    State = PeerState
    options = frozenset({"max_blocks"})

    def __init__(self, space=None, *, max_blocks: int = 5, **kwargs):
        super().__init__(space, **kwargs)
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be at least 1, got {max_blocks}.")
        self.max_blocks = max_blocks

    def get_config(self) -> dict:
        return {**super().get_config(), "max_blocks": self.max_blocks}

    def tuner_path(self, name: str) -> Path:
        """Where the tuner's own state lives inside the run directory."""
        return self.run.directory.root / name

    def refuse_resume(self, what: str, missing: Path) -> None:
        """Raise the one error of a resume whose tuner state is not there."""
        raise ValueError(
            f"cannot resume {self.algorithm} in {self.run.directory.root}: it holds no {what} ({missing} is "
            "missing; runs made before the peers kept their tuner state cannot be resumed). "
            "Start a new run directory, or search without resume."
        )
