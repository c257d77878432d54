"""What the peers share: the depth bound, knowing whether the search resumes, run-relative paths."""

from __future__ import annotations

from pathlib import Path

from automl_kit.search.base import Searcher
from automl_kit.search.space import SearchSpace


class PeerSearcher(Searcher):
    """A ``Searcher`` whose proposals come from another library's tuner, kept in the run directory.

    Subclasses keep the tuner's own state (a KerasTuner project, an Optuna storage) under
    ``run_dir`` and reload it when ``search(resume=True)``; if it cannot be reloaded they raise a
    ``ValueError`` rather than silently starting again.
    """

    def __init__(self, space=None, *, max_blocks: int = 5, **kwargs):
        super().__init__(space, **kwargs)
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be at least 1, got {max_blocks}.")
        self.max_blocks = max_blocks
        self._resume = False

    def get_config(self) -> dict:
        return {**super().get_config(), "max_blocks": self.max_blocks}

    @classmethod
    def from_config(cls, config: dict) -> PeerSearcher:
        """The searcher ``get_config()`` describes (its space rebuilt from the space's config)."""
        config = dict(config)
        algorithm = config.pop("algorithm", cls.algorithm)
        if algorithm != cls.algorithm:
            raise ValueError(
                f"this config is of {algorithm!r}, not {cls.algorithm!r}; "
                f"build it with automl_kit.registries.SEARCHERS.get({algorithm!r}).from_config."
            )
        space = config.pop("space", None)
        return cls(None if space is None else SearchSpace.from_config(space), **config)

    def search(self, *args, resume: bool = False, **kwargs):
        self._resume = resume  # the tuner reloads its saved state only when the search resumes
        return super().search(*args, resume=resume, **kwargs)

    @property
    def resuming(self) -> bool:
        """Whether the running search continues a saved one (then the tuner's state must reload)."""
        return self._resume

    def run_path(self, name: str) -> Path:
        """``name`` inside the run directory (no folders created)."""
        return Path(self.run.root) / name

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the run directory, so a moved run still resumes."""
        return Path(path).resolve().relative_to(Path(self.run.root).resolve()).as_posix()

    def resolve(self, relative: str) -> str:
        return str(Path(self.run.root) / relative)

    def refuse_resume(self, what: str, missing: Path) -> None:
        """Raise the one error of a resume whose tuner state is not there."""
        raise ValueError(
            f"cannot resume {self.algorithm} in {self.run.root}: it holds no {what} ({missing} is "
            "missing; runs made before the peers kept their tuner state cannot be resumed). "
            "Start a new run directory, or resume=False."
        )
