"""The opt-in pytest plugin's fixtures, exercised in an inner pytest run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cqrs.plugins import manager

pytest_plugins = ["pytester"]

INNER = """
import pytest

from cqrs.plugins import get_plugin_manager, manager

pytest_plugins = ["cqrs.testing.pytest_plugin"]

OUTER = manager.new_plugin_manager(autoload=False)
manager.set_plugin_manager(OUTER)


def test_memory_broker(memory_broker):
    assert type(memory_broker).__name__ == "MemoryMessageBroker"
    assert memory_broker.messages == {}


def test_fresh_manager_is_installed(fresh_plugin_manager):
    assert fresh_plugin_manager is not OUTER
    assert get_plugin_manager() is fresh_plugin_manager
    assert fresh_plugin_manager.has_plugin("cqrs-core")


@pytest.mark.parametrize("fresh_plugin_manager", [False], indirect=True)
def test_autoload_off(fresh_plugin_manager):
    assert fresh_plugin_manager.get_plugins() == {fresh_plugin_manager.get_plugin("cqrs-core")}


@pytest.fixture
def installed_entry_point(monkeypatch):
    # as if a distribution installed the `inner_plugin` module under the `cqrs` group
    import importlib.metadata

    point = importlib.metadata.EntryPoint(name="inner", value="inner_plugin", group="cqrs")
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group=None: [point] if group == "cqrs" else [],
    )


@pytest.mark.parametrize("fresh_plugin_manager", [True], indirect=True)
def test_autoload_on(installed_entry_point, fresh_plugin_manager):
    assert fresh_plugin_manager.has_plugin("inner")


def test_previous_manager_is_restored():
    assert manager._current is OUTER
"""


@pytest.fixture
def keep_manager() -> Iterator[None]:
    saved = manager._current
    yield
    manager.set_plugin_manager(saved)


def test_fixtures(pytester: pytest.Pytester, keep_manager: None) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=INNER, inner_plugin="")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)
