"""``Registry``: name -> class (or factory), with one wording of the "unknown name" error.

Data sets, search spaces, searchers, freezing policies, executors and zoo models each keep one
registry; the CLI and the benchmarks look names up there and nowhere else. An entry may be given
lazily as ``"module:attribute"`` so that registering an optional peer (KerasTuner, Optuna) costs
no import until it is used.

>>> from automl_kit.utils.registry import Registry
>>> shapes = Registry("shape")
>>> @shapes.register("square")
... class Square:
...     pass
>>> shapes.register("circle", "fractions:Fraction")  # lazy: imported on first get()
>>> shapes.names()
['circle', 'square']
>>> shapes.get("square") is Square
True
>>> shapes.get("triangle")
Traceback (most recent call last):
...
ValueError: unknown shape 'triangle'; choose one of: circle, square.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any


class Registry:
    """Named entries of one kind (``kind`` words the error: "unknown searcher 'x'")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str, obj: Any = None) -> Any:
        """Add ``obj`` under ``name``; without ``obj`` this is a class decorator.

        ``obj`` may be a ``"module:attribute"`` string, imported on first :meth:`get`.
        Registering a taken name with another object is an error (two things, one name).
        """
        if obj is None:
            return lambda target: self._add(name, target)
        self._add(name, obj)
        return None

    def _add(self, name: str, obj: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}.")
        if name in self._entries and self._entries[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered.")
        self._entries[name] = obj
        return obj

    def get(self, name: str) -> Any:
        """The entry called ``name``; an unknown name lists the known ones."""
        if name not in self._entries:
            raise ValueError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}."
            )
        obj = self._entries[name]
        if isinstance(obj, str):
            module, _, attribute = obj.partition(":")
            obj = self._entries[name] = getattr(importlib.import_module(module), attribute)
        return obj

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """``get(name)(*args, **kwargs)``."""
        factory: Callable[..., Any] = self.get(name)
        return factory(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
