"""The pytest plugin of cqrs: fixtures for testing applications, and for plugin authors.

pytest loads it by itself once `cqrs-core` is installed: a `pytest11` entry point named after
this module, so a `pytest_plugins = ["cqrs.testing.pytest_plugin"]` line written for older
versions finds it loaded; `-p no:cqrs.testing.pytest_plugin` turns it off. Loading it imports
nothing but `cqrs`'s plugin manager; each fixture imports what it builds when a test asks.

Applications use `cqrs_app` (an `AppHarness` factory), `cqrs_clock` and `cqrs_urls`; the
options `--cqrs-broker`, `--cqrs-outbox`, `--cqrs-inbox` and `--cqrs-saga-storage` (or the
`CQRS_KIT_*` variables) point them at real services. Plugin authors get `memory_broker` and
`fresh_plugin_manager`, which loads installed plugins unless parametrized indirectly with
`False`::

    @pytest.mark.parametrize("fresh_plugin_manager", [False], indirect=True)
    def test_only_builtin_schemes(fresh_plugin_manager): ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from cqrs.plugins import manager as _manager
from cqrs.plugins.manager import PluginManager, new_plugin_manager, set_plugin_manager

if TYPE_CHECKING:
    from cqrs.brokers.memory import MemoryMessageBroker
    from cqrs.testing.clock import ManualClock
    from cqrs.testing.harness import AppHarness
    from cqrs.testing.urls import AdapterUrls

__all__ = [
    "AppFactory",
    "cqrs_app",
    "cqrs_clock",
    "cqrs_urls",
    "fresh_plugin_manager",
    "memory_broker",
    "pytest_addoption",
]

_OPTIONS = {
    "broker": "--cqrs-broker",
    "outbox": "--cqrs-outbox",
    "inbox": "--cqrs-inbox",
    "saga_storage": "--cqrs-saga-storage",
}


class AppFactory(Protocol):
    """What `cqrs_app` is: `AppHarness`'s constructor with the test's URLs and clock filled in."""

    def __call__(self, **options: Any) -> AppHarness: ...


def pytest_addoption(parser: pytest.Parser) -> None:
    """The URL of each adapter role the `cqrs_app` harnesses use (default: `CQRS_KIT_*`, then
    `memory://`)."""
    group = parser.getgroup("cqrs", "cqrs application test kit")
    for role, option in _OPTIONS.items():
        group.addoption(
            option,
            dest=f"cqrs_{role}",
            default=None,
            help=f"URL of the {role.replace('_', ' ')} cqrs_app uses (e.g. postgresql+asyncpg://"
            "... or amqp://...); default: $CQRS_KIT_" + role.upper() + " or memory://",
        )


@pytest.fixture
def cqrs_urls(request: pytest.FixtureRequest) -> AdapterUrls:
    """The adapter URLs of this run: the `--cqrs-*` options over the `CQRS_KIT_*` variables."""
    from cqrs.testing.urls import AdapterUrls

    urls = AdapterUrls.from_env()
    given = {
        role: value
        for role in _OPTIONS
        if (value := request.config.getoption(f"cqrs_{role}", default=None))
    }
    return dataclasses.replace(urls, **given)


@pytest.fixture
def cqrs_clock() -> ManualClock:
    """A `ManualClock` for the test; `cqrs_app` harnesses read leases and retry times from it."""
    from cqrs.testing.clock import ManualClock

    return ManualClock()


@pytest.fixture
def cqrs_app(cqrs_urls: AdapterUrls, cqrs_clock: ManualClock) -> AppFactory:
    """Build an `AppHarness` on this run's adapters and the test's clock, in one line::

    async with cqrs_app(commands_mapper=...) as app: ...
    """
    from cqrs.testing.harness import AppHarness

    def build(**options: Any) -> AppHarness:
        options.setdefault("urls", cqrs_urls)
        options.setdefault("clock", cqrs_clock)
        return AppHarness(**options)

    return build


@pytest.fixture
def memory_broker() -> MemoryMessageBroker:
    """A new in-memory broker; sent messages are in `memory_broker.messages[topic]`."""
    from cqrs.brokers.memory import MemoryMessageBroker

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
