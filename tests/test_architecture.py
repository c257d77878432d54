"""The import rules of docs/architecture.md, checked by walking every module's imports.

Imports inside functions count too: a lazy import of another capability's private module
is still a dependency on it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "automl_kit"

# layer of each top-level part of automl_kit (a module may import its own layer and below)
LAYERS = {
    "_compat": 0,
    "utils": 0,
    "training": 1,
    "datasets": 1,
    "zoo": 1,
    "registries": 1,
    "search": 2,
    "freezing": 2,
    "capacity": 2,
    "knowledge": 2,
    "ehr": 2,
    "tweak": 2,
    "diagnose": 2,
    "auto": 3,  # runs the capabilities in sequence: uses their public names
    "testing": 3,  # the conformance suite: uses every capability's public names
    "cli": 3,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield (parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path, module: tuple[str, ...]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module if is_package else module[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from automl_kit.search import _evaluation` names a private module too
            found += [
                (node.lineno, f"{target}.{alias.name}")
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return [(line, name) for line, name in found if name.split(".")[0] == "automl_kit"]


def _violations() -> list[str]:
    problems = []
    for module, path in _modules():
        if len(module) < 2:
            continue  # automl_kit/__init__.py: lazy re-exports of every public name
        own = module[1]
        where = path.relative_to(PACKAGE.parent)
        for line, target in _imports(path, module):
            parts = target.split(".")
            if len(parts) < 2:
                continue
            other = parts[1]
            if other not in LAYERS or own not in LAYERS:
                problems.append(f"{where}:{line}: {target} (part not in the layer table)")
                continue
            # a capability's _cli.py is the command line's face of it: it sits in the CLI layer
            own_layer = LAYERS["cli"] if module[-1] == "_cli" else LAYERS[own]
            if LAYERS[other] > own_layer:
                problems.append(f"{where}:{line}: {own} (layer {own_layer}) imports {target}")
            private = [p for p in parts[2:] if p.startswith("_") and not p.startswith("__")]
            cli_registration = own == "cli" and parts[-1] == "_cli"
            if other != own and private and not cli_registration:
                problems.append(f"{where}:{line}: {own} imports private {target}")
    return problems


def test_layer_table_covers_every_subpackage():
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert parts <= set(LAYERS), f"add {sorted(parts - set(LAYERS))} to LAYERS and the docs"


def test_no_module_imports_upwards_or_into_another_capabilitys_private_modules():
    problems = _violations()
    assert not problems, "import rules of docs/architecture.md broken:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source, message",
    [
        ("from automl_kit.search._evaluation import FitnessGuard\n", "imports private"),
        ("import automl_kit.freezing\n", "imports automl_kit.freezing"),
    ],
)
def test_the_walker_catches_violations(tmp_path, monkeypatch, source, message):
    """The check itself can fail: a planted violation in a fake utils module is reported."""
    fake = tmp_path / "automl_kit"
    (fake / "utils").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "utils" / "__init__.py").write_text("")
    (fake / "utils" / "bad.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert any(message in problem for problem in _violations())
