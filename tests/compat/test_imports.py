"""Every public name of python-cqrs 4.10.1 imports from its 4.x path, or says what to use instead.

The names come from `pycqrs4_api.PYCQRS4_API` (read from the 4.10.1 distribution); where they
live here comes from the one compatibility table, `cqrs._compat.PYCQRS4_PATHS`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cqrs import _compat
from cqrs._compat import PYCQRS4_PATHS, Unsupported

SRC = Path(_compat.__file__).parent


def _load_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pycqrs4_api", Path(__file__).with_name("pycqrs4_api.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_API = _load_api()
PYCQRS4_API: dict[str, tuple[str, ...]] = _API.PYCQRS4_API
PENDING: dict[tuple[str, str], str] = _API.PENDING


def _cases() -> list[Any]:
    cases = []
    for module, names in sorted(PYCQRS4_API.items()):
        if not names:
            cases.append(pytest.param(module, None, id=module))
        for name in names:
            reason = PENDING.get((module, name))
            marks = [pytest.mark.xfail(raises=ImportError, reason=reason)] if reason else []
            cases.append(pytest.param(module, name, marks=marks, id=f"{module}.{name}"))
    return cases


def _refusal(module: str, name: str | None) -> Unsupported | None:
    """The table's refusal of `module` (or of a package above it), or of its `name`."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        row = PYCQRS4_PATHS.get(".".join(parts[:depth]))
        if isinstance(row, Unsupported):
            return row
    row = PYCQRS4_PATHS.get(module)
    if isinstance(row, dict) and name is not None:
        target = row.get(name)
        if isinstance(target, Unsupported):
            return target
    return None


def _target(module: str, name: str) -> Any:
    """What the table says `module.name` is, looked up at its home."""
    row = PYCQRS4_PATHS.get(module)
    target = row.get(name) if isinstance(row, dict) else None
    if not isinstance(target, str):
        return None
    home, _, attr = target.partition(":")
    return getattr(importlib.import_module(home), attr or name)


@pytest.mark.parametrize(("module", "name"), _cases())
def test_pycqrs4_name_imports_or_says_what_to_use(module: str, name: str | None) -> None:
    statement = f"import {module}" if name is None else f"from {module} import {name}"
    namespace: dict[str, Any] = {}
    refusal = _refusal(module, name)
    if refusal is not None:
        with pytest.raises(ImportError, match=r"\(python-cqrs 4\.x\) has no counterpart") as info:
            exec(statement, namespace)
        assert refusal.advice in str(info.value)
        return
    exec(statement, namespace)
    if name is None:
        return
    value = namespace[name]
    assert value is not None
    target = _target(module, name)
    if target is not None:
        assert value is target


def test_the_table_names_only_pycqrs4_paths_and_names() -> None:
    for path, row in PYCQRS4_PATHS.items():
        assert path in PYCQRS4_API, f"{path} is not a python-cqrs 4.x module"
        if isinstance(row, dict):
            assert set(row) <= set(PYCQRS4_API[path]), f"{path}: not 4.x names"


def test_pending_names_are_4x_names_the_table_does_not_serve() -> None:
    for module, name in PENDING:
        assert name in PYCQRS4_API[module]
        row = PYCQRS4_PATHS.get(module)
        assert not (isinstance(row, dict) and name in row), f"{module}.{name} is in the table"


def _thin_modules() -> list[str]:
    """Our modules that exist only to serve a 4.x path (they call `pycqrs4_module`)."""
    return sorted(
        path
        for path in PYCQRS4_PATHS
        if path != "cqrs" and "pycqrs4_module" in _source(path).read_text(encoding="utf-8")
    )


def _source(path: str) -> Path:
    base = SRC.joinpath(*path.split(".")[1:])
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def test_every_pycqrs4_path_of_the_table_has_a_module() -> None:
    missing = [path for path in PYCQRS4_PATHS if not _source(path).is_file()]
    assert missing == []


@pytest.mark.parametrize("path", _thin_modules())
def test_thin_module_matches_its_row(path: str) -> None:
    """`__all__` lists the served names and the type checkers' imports are the table's."""
    row = PYCQRS4_PATHS[path]
    tree = ast.parse(_source(path).read_text(encoding="utf-8"))
    checked: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.body:
                assert isinstance(child, ast.ImportFrom)
                assert child.module is not None
                checked.update({alias.asname or alias.name: child.module for alias in child.names})
    if isinstance(row, Unsupported):
        assert checked == {}
        return
    served = {name: target for name, target in row.items() if isinstance(target, str)}
    assert importlib.import_module(path).__all__ == list(served)
    same_name = {name: target for name, target in served.items() if ":" not in target}
    assert checked == same_name


def test_importing_the_framework_does_not_read_the_table() -> None:
    """Only a 4.x name's lookup loads the table: imports probing modules (`__path__`,
    `from cqrs import _x`) do not."""
    script = (
        "import sys, cqrs, cqrs.events, cqrs.events.event, cqrs.requests.bootstrap,"
        " cqrs.saga.storage, cqrs.bootstrap\n"
        "cqrs.Request; cqrs.events.EventMap\n"
        "assert 'cqrs._compat' not in sys.modules, 'table loaded'\n"
        "cqrs.SagaMediator\n"
        "assert 'cqrs._compat' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CQRS_")}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import cqrs
    import cqrs.events.event

    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = cqrs.NoSuchThing  # type: ignore[attr-defined]
    assert not hasattr(cqrs.events.event, "NoSuchThing")


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-python-cqrs.md"


def test_the_migration_guide_lists_every_row_of_the_table() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    missing = []
    for path, row in PYCQRS4_PATHS.items():
        if isinstance(row, Unsupported):
            missing += [] if f"`{path}`" in text else [path]
            continue
        for name, target in row.items():
            if isinstance(target, Unsupported):
                found = f"`{path}.{name}`" in text or (path == "cqrs.dispatcher" and name in text)
            else:
                home, _, attr = target.partition(":")
                found = f"| `{path}.{name}` | `{home}.{attr or name}` |" in text
            missing += [] if found else [f"{path}.{name}"]
    assert missing == [], "docs/migrating-from-python-cqrs.md lacks these rows of the table"


def test_the_migration_guide_names_what_is_not_there_yet() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert [name for _, name in PENDING if name not in text] == []
