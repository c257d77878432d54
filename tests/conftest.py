"""Shared fixtures: the offline data folder and a quiet, single-threaded TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# the search tests' stand-in for training, for the conformance suite too
from tests.search.conftest import fake_evaluate  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_dir() -> Path | None:
    """``$AUTOML_KIT_DATA`` if set, else ``../shared/data`` beside the checkout, else None."""
    value = os.environ.get("AUTOML_KIT_DATA")
    path = Path(value) if value else SHARED_DATA
    return path if path.is_dir() else None


@pytest.fixture
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "offline data folder missing: set AUTOML_KIT_DATA to the folder holding mnist.npz etc."
        )
    return path


def require_file(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.exists():
        pytest.skip(f"{name} not found in {directory}")
    return path


@pytest.fixture
def stop_after_epoch(monkeypatch):
    """``stop_after_epoch(n)``: the next checkpointed fit stops as Ctrl-C would, right after
    saving epoch ``n``; ``stop_after_epoch(None)`` lets fits run again."""
    from automl_kit.training import checkpoint
    from automl_kit.utils.interrupt import Interrupted

    real = checkpoint.raise_if_stop_requested

    def install(n: int | None) -> None:
        def stop(where: str = "") -> None:
            if f"after epoch {n} " in where:
                raise Interrupted(where)
            real(where)

        monkeypatch.setattr(checkpoint, "raise_if_stop_requested", real if n is None else stop)

    return install
