"""The capability contract of ``docs/architecture.md`` as reusable checks.

Each check raises ``AssertionError`` with a message that says which rule is broken, so a new
capability's test module only lists its classes and calls these (as Optuna's
``optuna/testing`` suite does for samplers). ``tests/test_conformance.py`` runs them over every
capability's main classes.

>>> from automl_kit.testing import check_config_round_trip
>>> from automl_kit.utils.budget import Budget
>>> check_config_round_trip(Budget(time="2m", evaluations=10))
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

# What a run directory may hold: JSON, CSV, Keras models, NumPy arrays, plots, text, databases
# of a peer library (Optuna's SQLite), never pickle.
ALLOWED_SUFFIXES = {
    ".json",
    ".jsonl",
    ".csv",
    ".keras",
    ".npy",
    ".npz",
    ".png",
    ".html",  # self-contained reports (plots embedded as base64 PNG)
    ".txt",
    ".db",
    ".cbm",  # CatBoost's own model format (flatbuffers, not pickle)
    ".lock",
}


def check_config_round_trip(obj: Any) -> None:
    """``get_config()`` is JSON-able and ``from_config`` rebuilds an object with the same config."""
    config = obj.get_config()
    assert isinstance(config, dict), f"{type(obj).__name__}.get_config() must return a dict"
    try:
        text = json.dumps(config, sort_keys=True)
    except TypeError as exc:
        raise AssertionError(f"{type(obj).__name__}.get_config() is not JSON-able: {exc}") from None
    rebuilt = type(obj).from_config(json.loads(text))
    assert type(rebuilt) is type(obj), f"from_config built a {type(rebuilt).__name__}"
    assert json.dumps(rebuilt.get_config(), sort_keys=True) == text, (
        f"{type(obj).__name__}.from_config(get_config()) changes the config"
    )


def check_seeded_determinism(run: Callable[[int], Any], *, seed: int = 0) -> Any:
    """``run(seed)`` twice gives equal results (compared as JSON, so floats must match exactly)."""
    first, second = run(seed), run(seed)
    as_json = [json.dumps(r, sort_keys=True, default=_plain) for r in (first, second)]
    assert as_json[0] == as_json[1], f"the same seed gave two results:\n{as_json[0]}\n{as_json[1]}"
    return first


def check_rejects(
    call: Callable[[], Any], fragment: str, *, error: type[Exception] = ValueError
) -> Exception:
    """``call()`` raises ``error`` whose message contains ``fragment`` (a regex) and says what to do."""
    try:
        call()
    except error as exc:
        message = str(exc)
        assert re.search(fragment, message), f"message {message!r} lacks {fragment!r}"
        assert len(message.split()) >= 5, f"message {message!r} is too short to name a fix"
        return exc
    raise AssertionError(f"expected {error.__name__} matching {fragment!r}; nothing was raised")


def check_result_contract(result: Any, run_dir: str | Path) -> dict:
    """``summary()`` is a JSON-able dict and ``save(run_dir)`` writes only allowed file types."""
    summary = result.summary()
    assert isinstance(summary, dict) and summary, "summary() must return a non-empty dict"
    json.dumps(summary, default=_plain)
    run_dir = Path(run_dir)
    result.save(run_dir)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert files, f"save({run_dir}) wrote nothing"
    odd = [str(p) for p in files if p.suffix not in ALLOWED_SUFFIXES and p.name != ".lock"]
    assert not odd, f"save() wrote files of types outside the contract (no pickle): {odd}"
    return summary


def check_result_round_trip(result: Any, run_dir: str | Path) -> Any:
    """The job result protocol: ``save(run_dir)`` returns the folder, and
    ``type(result).load(run_dir)`` gives back a result with the same ``summary()``."""
    summary = check_result_contract(result, run_dir)
    saved = result.save(run_dir)
    assert saved is not None and Path(saved) == Path(run_dir), (
        f"save({run_dir}) must return the folder it wrote, got {saved!r}"
    )
    loaded = type(result).load(run_dir)
    again = json.dumps(loaded.summary(), sort_keys=True, default=_plain)
    assert again == json.dumps(summary, sort_keys=True, default=_plain), (
        f"{type(result).__name__}.load(save(...)) changes the summary"
    )
    return loaded


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain JSON values (for comparing results)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-able")
