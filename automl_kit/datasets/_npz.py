"""Reading ``.npz`` files safely: never unpickling, and naming the file when it is damaged."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from automl_kit.datasets._dataset import CorruptDataError, DatasetNotAvailableError

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
# What numpy and zipfile raise on truncated, zeroed or foreign bytes.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError)


def _corrupt(path: Path, what: str, fix: str) -> CorruptDataError:
    return CorruptDataError(f"{path} is corrupt: {what}. {fix}")


def read_npz(
    path: str | Path,
    *,
    required: Iterable[str],
    optional: Iterable[str] = (),
    fix: str = "Replace it with a fresh copy.",
) -> dict[str, np.ndarray]:
    """The arrays ``required`` (all) and ``optional`` (those present) of the ``.npz`` at ``path``.

    Loads with ``allow_pickle=False``; a missing file raises :class:`DatasetNotAvailableError`,
    a damaged or foreign one :class:`CorruptDataError` naming the file and ``fix``.
    """
    path = Path(path)
    required, optional = list(required), list(optional)
    if not path.is_file():
        raise DatasetNotAvailableError(f"{path} does not exist or is not a file.")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise DatasetNotAvailableError(f"{path} cannot be read: {exc}") from exc
    if not head:
        raise _corrupt(path, "the file is empty (0 bytes)", fix)
    if head.startswith(_NPY_MAGIC):
        raise _corrupt(
            path,
            "it holds a single .npy array, not an .npz archive of named arrays "
            f"({', '.join(required)})",
            fix,
        )
    if not head.startswith(_ZIP_MAGIC):
        raise _corrupt(
            path, f"it is not an .npz (zip) archive; it starts with the bytes {head[:4]!r}", fix
        )
    arrays: dict[str, np.ndarray] = {}
    key = None
    try:
        # Our own handle, so a failed open cannot leak numpy's.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            missing = [k for k in required if k not in archive.files]
            if missing:
                raise ValueError(
                    f"{path} lacks the arrays {missing}; it holds {sorted(archive.files)} and "
                    f"needs {', '.join(required)}."
                )
            for key in [*required, *(k for k in optional if k in archive.files)]:
                arrays[key] = archive[key]
    except ValueError as exc:
        if str(exc).startswith(f"{path} lacks"):
            raise
        if "pickle" in str(exc) or "Object arrays" in str(exc):
            # numpy's own message would advise unpickling, which we never do with data files.
            raise _corrupt(
                path,
                f"array {key!r} holds Python objects (dtype=object), which are not loaded "
                "because unpickling a data file can run arbitrary code",
                "Save numeric or string arrays instead, e.g. np.savez(path, x_train=..., y_train=...).",
            ) from None
        raise _corrupt(path, _reading(key, exc), fix) from None
    except _READ_ERRORS as exc:
        raise _corrupt(path, _reading(key, exc), fix) from None
    return arrays


def _reading(key: str | None, exc: BaseException) -> str:
    where = f"reading array {key!r}" if key else "opening the archive"
    return f"{where} failed ({type(exc).__name__}); it is probably truncated or damaged"
