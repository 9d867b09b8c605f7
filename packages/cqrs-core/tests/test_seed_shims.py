"""Seed import paths of adapters: resolved from the adapter distribution, or a clear ImportError."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cqrs import _compat

SHIMS = [
    (seed, row.adapter, row.distribution, name)
    for seed, row in _compat.SEED_PATHS.items()
    for name in row.names
]
IDS = [shim for shim, *_ in SHIMS]


@pytest.fixture(autouse=True)
def isolated_modules() -> Iterator[None]:
    """Forget the shims and fake adapters a test imported, so each test imports afresh (also
    when other test modules of the session imported a shim first)."""
    parents = {shim.rpartition(".")[0] for shim, *_ in SHIMS}
    attrs = {p: set(vars(importlib.import_module(p))) for p in parents}
    imported = {shim: sys.modules.pop(shim) for shim, *_ in SHIMS if shim in sys.modules}
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
    sys.modules.update(imported)
    for parent, names in attrs.items():
        module = sys.modules[parent]
        for extra in set(vars(module)) - names:
            delattr(module, extra)


@pytest.mark.parametrize(("shim", "adapter", "distribution", "name"), SHIMS, ids=IDS)
def test_import_without_the_adapter_names_the_distribution(
    monkeypatch: pytest.MonkeyPatch, shim: str, adapter: str, distribution: str, name: str
) -> None:
    monkeypatch.setitem(sys.modules, adapter, None)  # hidden even if it gets installed
    with pytest.raises(ImportError, match=f"pip install {distribution}$") as caught:
        importlib.import_module(shim)
    assert caught.value.name == adapter
    assert shim not in sys.modules


@pytest.mark.parametrize(("shim", "adapter", "distribution", "name"), SHIMS, ids=IDS)
def test_seed_style_from_import_fails_the_same_way(
    monkeypatch: pytest.MonkeyPatch, shim: str, adapter: str, distribution: str, name: str
) -> None:
    monkeypatch.setitem(sys.modules, adapter, None)
    with pytest.raises(ImportError, match=distribution):
        exec(f"from {shim} import {name}", {})


def _write_adapter(root: Path, module: str, body: str) -> None:
    package = root / module
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body))


@pytest.mark.parametrize(("shim", "adapter", "distribution", "name"), SHIMS, ids=IDS)
def test_installed_adapter_provides_the_seed_names(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    shim: str,
    adapter: str,
    distribution: str,
    name: str,
) -> None:
    pycqrs4 = _compat.PYCQRS4_PATHS.get(shim, {})
    more = list(pycqrs4) if isinstance(pycqrs4, dict) else []
    classes = "".join(f"class {each}: ...\n" for each in (name, "Other", *more))
    _write_adapter(tmp_path, adapter, classes)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, adapter, raising=False)
    module = importlib.import_module(shim)
    provided = importlib.import_module(adapter)
    assert getattr(module, name) is getattr(provided, name)
    assert module.Other is provided.Other
    assert module.__all__ == [name, *more]
    namespace: dict[str, object] = {}
    exec(f"from {shim} import *", namespace)
    assert namespace[name] is getattr(provided, name)
    with pytest.raises(AttributeError, match=f"{adapter} does not provide it"):
        _ = module.Missing


def test_broken_adapter_keeps_its_own_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _write_adapter(tmp_path, "cqrs_kafka", "import aiokafka_not_installed_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cqrs_kafka", raising=False)
    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module("cqrs.message_brokers.kafka")
    assert caught.value.name == "aiokafka_not_installed_here"
    assert "pip install" not in str(caught.value)


def test_adapters_package_itself_imports_without_adapters() -> None:
    adapters = importlib.import_module("cqrs.adapters")
    assert adapters.__all__ == []


def test_the_table_keeps_every_seed_path() -> None:
    assert _compat.SEED_PATHS == {
        "cqrs.message_brokers.kafka": ("cqrs_kafka", "cqrs-kafka", ("KafkaMessageBroker",)),
        "cqrs.adapters.kafka": ("cqrs_kafka", "cqrs-kafka", ("kafka_producer_factory",)),
        "cqrs.adapters.circuit_breaker": (
            "cqrs_aiobreaker",
            "cqrs-aiobreaker",
            ("AioBreakerAdapter",),
        ),
        "cqrs.container.dependency_injector": (
            "cqrs_dependency_injector",
            "cqrs-dependency-injector",
            ("DependencyInjectorCQRSContainer",),
        ),
        "cqrs.container.di": ("cqrs_di", "cqrs-di", ("DIContainer",)),
        "cqrs.outbox.sqlalchemy": (
            "cqrs_sqla",
            "cqrs-sqla",
            ("SqlAlchemyOutboxedEventRepository",),
        ),
    }


def _type_checking_imports(path: Path) -> set[tuple[str, str]]:
    """The (module, name) pairs a module imports under `if TYPE_CHECKING:`."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                found |= {(statement.module or "", alias.name) for alias in statement.names}
    return found


@pytest.mark.parametrize("seed", list(_compat.SEED_PATHS))
def test_the_seed_module_reads_its_row_and_types_its_names(seed: str) -> None:
    """The module is the two lines that read the row, and tells type checkers the same names."""
    row = _compat.SEED_PATHS[seed]
    path = Path(_compat.__file__).parent.joinpath(*seed.split(".")[1:]).with_suffix(".py")
    assert "__all__, __getattr__ = _compat.forward_module(__name__)" in path.read_text()
    assert _type_checking_imports(path) == {(row.adapter, name) for name in row.names}
