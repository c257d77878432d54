"""Run directories: one folder per job holding its config, logs, checkpoint, results and models.

The rules every job gets from here (``RunDirectory.open``, and the whole lifecycle from
``RunDirectory.claim``):

* **Ownership.** ``run.json`` records the command that owns the folder, its status
  (``running`` / ``stopped`` / ``finished``), when it was created and by which version. A folder
  that holds another run is refused unless the caller resumes it (same command) or overwrites
  it, and this is checked before anything is written.
* **One writer.** An exclusive ``fcntl.flock`` on ``<dir>/.lock`` for as long as the job runs; a
  second process gets :class:`RunLockedError` naming the holder's pid.
* **Relative paths.** Paths stored in logs and checkpoints are relative to the folder
  (:meth:`RunDirectory.relative` / :meth:`RunDirectory.resolve`), so a moved or copied run resumes.
* **Whole-line logs.** :meth:`RunDirectory.append_jsonl` writes one whole line per record and
  fsyncs it; :meth:`RunDirectory.read_jsonl` drops a torn last line (a crash mid-write), truncates
  the file to its last whole line and warns.
* **Atomic checkpoints** with the random generator's state; a corrupt one raises
  :class:`CorruptRunError` naming the file and the fix.
* **A full disk** raises :class:`DiskFullError`: one line saying what could not be written.

>>> import tempfile
>>> with RunDirectory.open(tempfile.mkdtemp() + "/run", "evolve") as run:
...     run.append_jsonl("log.jsonl", {"step": 1})
...     run.read_jsonl("log.jsonl"), run.status
([{'step': 1}], 'running')
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from automl_kit.utils.interrupt import Interrupted
from automl_kit.utils.io import to_jsonable, write_csv, write_json

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
CHECKPOINT_FILE = "checkpoint.json"
# files by which a folder without run.json is recognised as a run: one written before run.json
# existed, or one killed after writing its arguments (``first_files``) and before run.json
_LEGACY_MARKERS = ("config.json", "cli_args.json", "evaluations.jsonl", "checkpoint.json")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class RunDirectoryError(ValueError):
    """A run directory cannot be used as asked (message names the problem and the fix)."""


class RunLockedError(RunDirectoryError):
    """Another process holds the run directory's lock."""


class CorruptRunError(RunDirectoryError):
    """A file of the run directory (checkpoint, config) cannot be read back."""


class RunNote(RuntimeWarning):
    """Something the run directory did on its own (e.g. dropped a torn log line); the CLI
    shows it as one ``note: ...`` line, like a :class:`~automl_kit.utils.validation.DataWarning`."""


class DiskFullError(RunDirectoryError):
    """A write failed for lack of space; what was written before is intact."""

    errno = errno.ENOSPC


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("automl_kit")
    except Exception:  # an uninstalled checkout still runs
        return "unknown"


class RunDirectory:
    """A job's output folder, ``runs/<timestamp>-<command>/`` unless a path is given.

    ``RunDirectory(path)`` gives read access to an existing folder (no lock, no checks);
    :meth:`open` is how a job claims one.
    """

    def __init__(self, root: str | os.PathLike):
        # absolute, so that paths made here stay valid whatever the working directory becomes
        self.root = Path(root).absolute()
        self._lock_fd: int | None = None
        self.outcome: str | None = None  # how claim() settled the run

    # ---- claiming a folder ---------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike | None = None,
        command: str = "run",
        *,
        resume: bool = False,
        overwrite: bool = False,
        root: str | os.PathLike = "runs",
        cli: bool = False,
        first_files: dict | None = None,
    ) -> RunDirectory:
        """Claim a run directory for ``command``: check, lock, record ownership.

        A new folder (or ``path=None``: ``<root>/<timestamp>-<command>``) is created. A folder
        holding a run needs ``resume=True`` (same command; its status is left as it was, the
        job decides with :meth:`mark_running`) or ``overwrite=True``: the old run is moved
        to :attr:`replaced` and deleted when the new one is marked finished; a caller whose job
        fails first puts it back with :meth:`restore_replaced`.
        ``cli=True`` words the errors with the command-line flags (``--resume``, ``--overwrite``).
        ``first_files`` (name -> JSON value, e.g. the job's arguments) are written before
        ``run.json``, so a run killed at any moment holds what ``resume`` needs.
        """
        if resume and overwrite:
            raise RunDirectoryError("pass resume or overwrite, not both.")
        if path is None:
            if resume:
                raise RunDirectoryError(
                    "resume needs the run directory to continue: pass its path."
                )
            path = cls._fresh_path(command, root)
        path = Path(path)
        owner = cls.check(path, command, resume=resume, overwrite=overwrite, cli=cli)
        run = cls(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirectoryError(
                f"cannot create the run directory {path}: {exc.strerror}."
            ) from None
        run._lock()
        try:
            if overwrite and owner is not None:
                run._set_aside()
            for name, value in (first_files or {}).items():
                run.write_json(name, value)
            if owner is None or overwrite:
                run._write_run_file(
                    {
                        "command": command,
                        "status": "running",
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "version": _version(),
                    }
                )
            elif not (path / RUN_FILE).exists():  # a legacy run: record its owner now
                run._write_run_file(
                    {"command": command, "status": "stopped", "created": "", "version": _version()}
                )
        except BaseException:
            run.close()
            raise
        return run

    @classmethod
    @contextmanager
    def claim(
        cls,
        run_dir: str | os.PathLike | RunDirectory | None,
        command: str,
        *,
        resume: bool = False,
        overwrite: bool = False,
        cli: bool = False,
        bookkeeping: frozenset[str] = frozenset(),
        first_files: dict | None = None,
    ) -> Iterator[RunDirectory]:
        """The run lifecycle every job uses: claim ``run_dir``, yield it, settle it.

        A :class:`RunDirectory` passed in belongs to the caller: it is yielded as is. Otherwise
        the folder is claimed with :meth:`open` and, when the block

        * ends: marked ``finished`` (a run it overwrote is deleted only now);
        * is stopped by Ctrl-C: an overwritten run is put back if the new one wrote nothing
          yet, else the run is marked ``stopped`` to be resumed;
        * fails: an overwritten run is put back; a folder this call created and that holds
          nothing but ``bookkeeping``, ``first_files`` (written before ``run.json``, see
          :meth:`open`), ``run.json`` and ``config.json`` is removed, so the
          corrected call can use it; otherwise the run is marked ``stopped``. A full disk
          raises :class:`DiskFullError` (``cli=True`` leaves the ``OSError`` to the command).

        :attr:`outcome` says which (``finished``, ``stopped``, ``restored``, ``removed``); the
        lock is released in every case.

        >>> import tempfile
        >>> with RunDirectory.claim(tempfile.mkdtemp() + "/run", "evolve") as run:
        ...     _ = run.write_json("numbers.json", [1, 2])
        >>> run.outcome, run.status
        ('finished', 'finished')
        """
        if isinstance(run_dir, RunDirectory):
            yield run_dir
            return
        existed = run_dir is not None and Path(run_dir).exists()
        run = cls.open(
            run_dir, command, resume=resume, overwrite=overwrite, cli=cli, first_files=first_files
        )
        idle = {RUN_FILE, LOCK_FILE, "config.json", *bookkeeping, *(first_files or {})}
        try:
            yield run
        except (Interrupted, KeyboardInterrupt):
            if not run.has_work(idle) and run.restore_replaced():
                run.outcome = "restored"
            else:
                run.outcome = "stopped"
                run._mark_stopped_if_possible()
            raise
        except Exception as exc:
            if run.restore_replaced():
                run.outcome = "restored"  # a failed overwrite: the old run is back, as it was
            elif not existed and not run.has_work(idle):
                run.close()
                shutil.rmtree(run.root, ignore_errors=True)
                run.outcome = "removed"  # no stub is left to block the corrected call
            else:
                run.outcome = "stopped"
                if run.status == "running":
                    run._mark_stopped_if_possible()
            if not cli and getattr(exc, "errno", None) in _DISK_FULL:
                where = getattr(exc, "filename", None) or run.root
                raise DiskFullError(
                    f"could not write to {where}: no space left on the device ({exc.strerror}). "
                    "Nothing finished is lost: free some space, then resume it."
                ) from None
            raise
        else:
            run.mark_finished()
            run.outcome = "finished"
        finally:
            run.close()

    def has_work(self, bookkeeping: set[str] | frozenset[str] = frozenset()) -> bool:
        """Whether the folder holds anything but ``bookkeeping`` (file names at its top)."""
        return self.root.is_dir() and any(
            child.name not in bookkeeping for child in self.root.iterdir()
        )

    def _mark_stopped_if_possible(self) -> None:
        try:
            self.mark_stopped()
        except (OSError, ValueError):
            pass  # a full disk: the run stays "running", which resumes the same way

    @classmethod
    def check(
        cls,
        path: str | os.PathLike,
        command: str,
        *,
        resume: bool = False,
        overwrite: bool = False,
        cli: bool = False,
    ) -> dict | None:
        """Every check :meth:`open` makes, writing nothing; the run's ``run.json`` record or None.

        Raises :class:`CorruptRunError` for an unreadable ``run.json`` (unless ``overwrite``),
        :class:`RunLockedError` when a running job holds the folder, and
        :class:`RunDirectoryError` for a folder ``command`` may not use as asked.
        """
        path = Path(path)
        _check_place(path)
        owner = cls._owner(path, strict=not overwrite)
        resume_opt = "--resume" if cli else "resume=True"
        overwrite_opt = "--overwrite" if cli else "overwrite=True"
        if owner is not None:
            held = owner.get("command", "unknown")
            if owner.get("status") == "running" and not overwrite:
                _check_unlocked(path)  # a live job: say so, not "pass --resume"
            if resume and held not in (command, "unknown"):
                raise RunDirectoryError(
                    f"cannot resume {path}: it holds {_a(held)} '{held}' run, not {_a(command)} "
                    f"'{command}' run; resume it with 'automl-kit {held} --resume {path}' or "
                    "choose another folder."
                )
            if not resume and not overwrite:
                can_resume = held in (command, "unknown")
                continue_it = f"pass {resume_opt} to continue it, " if can_resume else ""
                raise RunDirectoryError(
                    f"{path} already holds {_a(held)} '{held}' run "
                    f"({owner.get('status', 'unknown')}); {continue_it}"
                    f"{'choose another folder or pass ' if not can_resume else ''}"
                    f"{overwrite_opt} to replace it"
                    f"{', or choose another folder' if can_resume else ''}."
                )
        elif resume:
            raise RunDirectoryError(
                f"cannot resume: {path} holds no earlier run (no {RUN_FILE} or config.json); "
                f"check the path, or start a new run there without {resume_opt}."
            )
        return owner

    @classmethod
    def create(
        cls,
        command: str,
        *,
        path: str | os.PathLike | None = None,
        root: str | os.PathLike = "runs",
    ) -> RunDirectory:
        """Create the folder without ownership checks or lock (kept for older callers; prefer :meth:`open`)."""
        path = Path(path) if path is not None else cls._fresh_path(command, root)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @staticmethod
    def _fresh_path(command: str, root) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{stamp}-{command}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(root) / f"{stamp}-{command}-{suffix}"
        return path

    @staticmethod
    def _owner(path: Path, strict: bool = True) -> dict | None:
        """The ownership record of the run in ``path``; ``{}``-like for legacy runs; None if none.

        ``strict``: an unreadable ``run.json`` raises :class:`CorruptRunError` (otherwise it
        counts as a run of an unknown command, e.g. for ``overwrite``).
        """
        if not path.is_dir():
            return None
        record = path / RUN_FILE
        if record.is_file():
            try:
                return _read_run_file(record)
            except CorruptRunError:
                if strict:
                    raise
                return {"command": "unknown", "status": "unreadable run.json"}
        if any((path / name).exists() for name in _LEGACY_MARKERS):
            return {"command": "unknown", "status": "written by an older version"}
        return None

    def _lock(self) -> None:
        import fcntl

        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(
                f"{self.root} is in use by another process (pid {holder}); wait for it to end, "
                "stop it, or choose another folder."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    # ---- overwriting: the old run is set aside until the new one finishes ---------------
    @property
    def replaced(self) -> Path:
        """Where an overwritten run waits (``.<name>.replaced`` beside the folder) until the
        run replacing it finishes; it is put back if that run fails first."""
        return self.root.parent / f".{self.root.name}.replaced"

    def _set_aside(self) -> None:
        """Move the old run into :attr:`replaced` (renames: nothing is copied or deleted).

        Where a killed overwrite left one there already, that is the older, complete run: it
        stays, and the folder's partial contents are dropped.
        """
        if self.replaced.is_dir():
            warnings.warn(
                f"an earlier --overwrite of {self.root} was cut off; the run it replaced is still "
                f"kept in {self.replaced} until this one finishes.",
                RunNote,
                stacklevel=3,
            )
            self._empty(self.root)
            return
        self.replaced.mkdir()
        for child in self.root.iterdir():
            if child.name != LOCK_FILE:
                child.rename(self.replaced / child.name)

    def restore_replaced(self) -> bool:
        """Put an overwritten run back in place of the unfinished one; whether there was one."""
        if not self.replaced.is_dir():
            return False
        self._empty(self.root)
        for child in self.replaced.iterdir():
            child.rename(self.root / child.name)
        self.replaced.rmdir()
        return True

    def _discard_replaced(self) -> None:
        if self.replaced.is_dir():
            shutil.rmtree(self.replaced)

    @staticmethod
    def _empty(folder: Path) -> None:
        for child in folder.iterdir():
            if child.name == LOCK_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    def close(self) -> None:
        """Release the lock (also released when the process ends)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def locked(self) -> bool:
        """Whether this object holds the folder's lock."""
        return self._lock_fd is not None

    # ---- ownership record and status -----------------------------------------------------
    def info(self) -> dict:
        """The ``run.json`` record (empty for a legacy run)."""
        record = self.root / RUN_FILE
        return _read_run_file(record) if record.is_file() else {}

    @property
    def command(self) -> str | None:
        return self.info().get("command")

    @property
    def status(self) -> str | None:
        """``running`` / ``stopped`` / ``finished`` (``None`` for a folder without ``run.json``)."""
        return self.info().get("status")

    def _set_status(self, status: str) -> None:
        self._write_run_file({**self.info(), "status": status})

    def mark_running(self) -> None:
        self._set_status("running")

    def mark_stopped(self) -> None:
        self._set_status("stopped")

    def mark_finished(self) -> None:
        """Record the run as finished; the run it overwrote (if any) is deleted only now."""
        self._set_status("finished")
        self._discard_replaced()

    def _write_run_file(self, record: dict) -> None:
        self._guarded(self.root / RUN_FILE, write_json, self.root / RUN_FILE, record)

    # ---- paths -----------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """Path of a file inside the run directory (parent folders created)."""
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the run directory (as stored in logs); outside paths stay absolute."""
        path = Path(path)
        if not path.is_absolute():
            if not path.absolute().resolve().is_relative_to(self.root.resolve()):
                return path.as_posix()  # already relative to the run directory
            path = path.absolute()
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, stored: str | os.PathLike) -> Path:
        """The path a log or checkpoint stored, made usable: relative ones from the run directory.

        An absolute path written by an older version that no longer exists (the run was moved)
        is looked up under the same name in this folder's ``models/``.
        """
        path = Path(stored)
        if not path.is_absolute():
            return self.root / path
        if not path.exists() and (self.root / "models" / path.name).exists():
            return self.root / "models" / path.name
        return path

    # ---- JSON, CSV and JSONL ---------------------------------------------------------------
    def write_config(self, config: dict) -> Path:
        return self._guarded(
            self.root / "config.json", write_json, self.path("config.json"), config
        )

    def read_config(self) -> dict:
        return self._read_json_file("config.json")

    def write_results(self, results: dict, name: str = "results.json") -> Path:
        return self._guarded(self.root / name, write_json, self.path(name), results)

    def write_json(self, name: str, data) -> Path:
        return self._guarded(self.root / name, write_json, self.path(name), data)

    def write_table(self, name: str, rows) -> Path:
        name = name if name.endswith(".csv") else f"{name}.csv"
        return self._guarded(self.root / name, write_csv, self.path(name), rows)

    def append_jsonl(self, name: str, record: dict) -> None:
        """Append ``record`` as one whole line (a single write, flushed and fsynced)."""
        target = self.path(name)
        self._repair_tail(target)
        line = (json.dumps(to_jsonable(record), allow_nan=False) + "\n").encode()

        def append():
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

        self._guarded(target, append)

    def read_jsonl(self, name: str) -> list[dict]:
        """Every whole record of a JSONL log; a torn last line is dropped and cut off the file."""
        target = self.root / name
        if not target.exists():
            return []
        self._repair_tail(target)
        records = []
        with open(target, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise CorruptRunError(
                        f"{target}, line {number}, is not a JSON record ({exc.msg}); "
                        "delete that line (or restore the file) and resume again."
                    ) from None
        return records

    def _repair_tail(self, target: Path) -> None:
        """Cut a last line that a crash left without its newline (it is incomplete)."""
        if not target.exists():
            return
        with open(target, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            # find the end of the last whole line, reading backwards in blocks
            end, block = size, 4096
            keep = 0
            while end > 0:
                start = max(0, end - block)
                fh.seek(start)
                chunk = fh.read(end - start)
                cut = chunk.rfind(b"\n")
                if cut >= 0:
                    keep = start + cut + 1
                    break
                end = start
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        warnings.warn(
            f"{target}: dropped a torn last record ({size - keep} bytes, cut off by a crash "
            "mid-write); a run that goes on redoes what it recorded (a finished run is left as "
            "it is: --extend continues it).",
            RunNote,
            stacklevel=3,
        )

    # ---- checkpoints -----------------------------------------------------------------------
    def write_checkpoint(
        self, state: dict, rng: random.Random | None = None, name: str = CHECKPOINT_FILE
    ) -> Path:
        """Write ``state`` and the generator's position atomically (JSON: the old file or the new one)."""
        data = {"state": state, "rng": None if rng is None else _rng_to_json(rng)}
        return self._guarded(self.root / name, write_json, self.path(name), data)

    def read_checkpoint(self, name: str = CHECKPOINT_FILE) -> tuple[dict, tuple | None]:
        """``(state, rng_state)`` of the checkpoint; ``rng_state`` goes to ``random.Random.setstate``."""
        target = self.root / name
        fix = (
            f"the evaluation log alone is enough to resume: delete {target} and resume again "
            "(the search replays from its start and reuses every logged evaluation)."
        )
        try:
            data = json.loads(target.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise CorruptRunError(f"{target} is corrupt (not text); {fix}") from None
        except json.JSONDecodeError as exc:
            raise CorruptRunError(f"{target} is corrupt ({exc.msg}, truncated?); {fix}") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("state"), dict)
            or "rng" not in data
        ):
            raise CorruptRunError(f"{target} is corrupt (no saved state); {fix}")
        try:
            rng = None if data["rng"] is None else _rng_from_json(data["rng"])
        except (TypeError, ValueError, IndexError):
            raise CorruptRunError(f"{target} is corrupt (bad generator state); {fix}") from None
        return data["state"], rng

    def has_checkpoint(self, name: str = CHECKPOINT_FILE) -> bool:
        return (self.root / name).is_file()

    # ---- internals -------------------------------------------------------------------------
    def _read_json_file(self, name: str):
        target = self.root / name
        try:
            return json.loads(target.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptRunError(
                f"{target} is corrupt ({exc}); restore it or start a new run."
            ) from None

    def _guarded(self, target: Path, write, *args):
        """Run a write; a full disk becomes one clear line instead of a traceback."""
        try:
            return write(*args)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise DiskFullError(
                    f"could not write {target}: no space left on the device. Nothing finished is "
                    f"lost: free some space, then resume {self.root}.",
                ) from None
            raise

    def __fspath__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.root)!r})"


STATUSES = ("running", "stopped", "finished")


def run_root(run_dir: str | os.PathLike | RunDirectory) -> Path:
    """The folder of ``run_dir`` (a path, or an open ``RunDirectory``: its ``.root``), created:
    where a result's ``save(run_dir)`` writes."""
    root = Path(run_dir.root if isinstance(run_dir, RunDirectory) else run_dir)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _a(word: str) -> str:
    """The indefinite article for ``word`` ("an 'evolve' run", "a 'train' run")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _read_run_file(record: Path) -> dict:
    """``run.json`` checked: a dict with a command and a known status, else CorruptRunError."""
    fix = (
        'restore it from a copy, or write {"command": "<command>", "status": "stopped"} '
        "into it to resume the run (or --overwrite / choose another folder to start afresh)."
    )
    try:
        data = json.loads(record.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptRunError(f"{record} is corrupt (not text); {fix}") from None
    except json.JSONDecodeError as exc:
        raise CorruptRunError(f"{record} is corrupt ({exc.msg}); {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("command"), str):
        raise CorruptRunError(f"{record} is corrupt (no command recorded); {fix}")
    if data.get("status") not in STATUSES:
        raise CorruptRunError(
            f"{record} is corrupt (status {data.get('status')!r} is none of "
            f"{', '.join(STATUSES)}); {fix}"
        )
    return data


def _check_unlocked(path: Path) -> None:
    """Raise :class:`RunLockedError` when another process holds ``path``'s lock."""
    import fcntl

    lock = path / LOCK_FILE
    if not lock.is_file():
        return
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        raise RunLockedError(
            f"{path} is in use by another process (pid {holder}); wait for it to end, "
            "stop it, or choose another folder."
        ) from None
    finally:
        os.close(fd)  # a shared lock taken here goes with the descriptor


def _check_place(path: Path) -> None:
    """Refuse a path naming a file or a place we cannot write, before anything is written."""
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(
            f"the run directory {path} is a file, not a folder; choose a folder (it is created)."
        )
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise RunDirectoryError(
            f"cannot create the run directory {path}: {existing} is a file; choose another path."
        )
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise RunDirectoryError(
            f"cannot write to {existing} (permission denied); choose a folder you can write to."
        )


def _rng_to_json(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from_json(data: list) -> tuple:
    return data[0], tuple(data[1]), data[2]
