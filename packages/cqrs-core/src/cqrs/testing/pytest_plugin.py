"""Opt-in pytest fixtures for applications and plugins built on cqrs.

Enable it in a `conftest.py` with `pytest_plugins = ["cqrs.testing.pytest_plugin"]`.
`fresh_plugin_manager` loads installed plugins unless parametrized indirectly with `False`::

    @pytest.mark.parametrize("fresh_plugin_manager", [False], indirect=True)
    def test_only_builtin_schemes(fresh_plugin_manager): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.plugins import manager as _manager
from cqrs.plugins.manager import PluginManager, new_plugin_manager, set_plugin_manager

__all__ = ["fresh_plugin_manager", "memory_broker"]


@pytest.fixture
def memory_broker() -> MemoryMessageBroker:
    """A new in-memory broker; sent messages are in `memory_broker.messages[topic]`."""
    return MemoryMessageBroker()


@pytest.fixture
def fresh_plugin_manager(request: pytest.FixtureRequest) -> Iterator[PluginManager]:
    """A new plugin manager installed as the process's manager for one test, then restored.

    An indirect parameter sets `autoload`: `False` registers only the built-in plugin, `True`
    loads every installed entry point; without one, `CQRS_DISABLE_PLUGIN_AUTOLOAD` decides.
    """
    autoload: bool | None = getattr(request, "param", None)
    previous = _manager._current
    manager = new_plugin_manager(autoload=autoload)
    set_plugin_manager(manager)
    try:
        yield manager
    finally:
        set_plugin_manager(previous)
