"""The install hints for adapters that are not installed match what those adapters declare."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

from cqrs.plugins import KNOWN_ADAPTERS, SchemeDeclaration
from cqrs.plugins.hints import ADAPTER_SCHEMES

ROOT = Path(__file__).resolve().parents[1]


def _declared_by_workspace_adapters() -> set[tuple[str, str, str]]:
    """`(distribution, role, scheme)` for every declaration of every `packages/*` plugin."""
    found: set[tuple[str, str, str]] = set()
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        for reference in project.get("entry-points", {}).get("cqrs", {}).values():
            plugin = importlib.import_module(reference)
            declare = getattr(plugin, "cqrs_declare_schemes", None)
            declared: list[SchemeDeclaration] = declare() if declare else []
            found.update((project["name"], d.role, d.scheme) for d in declared)
    return found


def test_the_hint_table_is_what_the_adapters_declare() -> None:
    declared = _declared_by_workspace_adapters()
    assert set(ADAPTER_SCHEMES) == declared
    assert len(ADAPTER_SCHEMES) == len(set(ADAPTER_SCHEMES))
    hinted = {scheme: dist for dist, _, scheme in declared}
    assert hinted == KNOWN_ADAPTERS


def test_no_adapter_plugin_uses_the_older_hooks() -> None:
    """The project's own adapters declare their schemes; the older hooks are for third parties."""
    for path in ROOT.glob("packages/*/src/*/_plugin.py"):
        text = path.read_text(encoding="utf-8")
        for older in ("def cqrs_list_schemes", "def cqrs_make_"):
            assert older not in text, f"{path.relative_to(ROOT)} still defines {older}"
