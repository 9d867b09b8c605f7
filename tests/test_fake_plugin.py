"""A third-party plugin (`cqrs-fake`, installed by entry point) works with no change to core."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

import cqrs
from cqrs.exceptions import UnknownSchemeError
from cqrs.plugins import (
    AUTOLOAD_ENV,
    ENTRY_POINT_GROUP,
    PluginManager,
    get_plugin_manager,
    installed_schemes,
    make_message_broker,
    new_plugin_manager,
    set_plugin_manager,
)
from cqrs.testing import MessageBrokerContract
from cqrs_fake import FakeMessageBroker

pytest_plugins = ["cqrs.testing.pytest_plugin"]


class TestFakeBrokerContract(MessageBrokerContract):
    """The fake broker, built from its URL through the installed plugin, passes the contract."""

    quiet_timeout = 0.05

    @pytest.fixture
    async def broker(self, fresh_plugin_manager: PluginManager) -> AsyncIterator[Any]:
        broker = make_message_broker("fake://contract")
        assert isinstance(broker, FakeMessageBroker)
        yield broker
        await broker.close()

    async def make_broker(self, broker: FakeMessageBroker) -> FakeMessageBroker:
        """An in-process broker of plain lists: the same one serves any event loop."""
        return broker

    async def read_messages(
        self, broker: FakeMessageBroker, topic: str, count: int, timeout: float
    ) -> list[cqrs.Message]:
        box = broker.sent.setdefault(topic, [])
        async with asyncio.timeout(timeout):
            while len(box) < count:
                await asyncio.sleep(0.001)
        return box[:count]


class Paid(cqrs.Response):
    order_id: str


class PayOrder(cqrs.Request):
    order_id: str


class PayOrderHandler(cqrs.RequestHandler[PayOrder, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    async def handle(self, request: PayOrder) -> None:
        self._events.append(
            cqrs.NotificationEvent[Paid](
                event_name="OrderPaid",
                topic="orders",
                payload=Paid(order_id=request.order_id),
                partition_key=request.order_id,
            )
        )


async def test_bootstrap_with_fake_url_publishes_to_the_plugin_broker(
    fresh_plugin_manager: PluginManager,
) -> None:
    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(PayOrder, PayOrderHandler),
        message_broker="fake://x",
    )
    broker = mediator.event_processor.emitter.message_broker
    assert isinstance(broker, FakeMessageBroker)
    assert broker.name == "x"
    await mediator.send(PayOrder(order_id="o-7"))
    (message,) = broker.sent["orders"]
    assert message.message_name == "OrderPaid"
    assert message.key == "o-7"
    event = cqrs.NotificationEvent[Paid].from_dict(json.loads(message.payload))
    assert event.payload == Paid(order_id="o-7")


def test_manager_lists_the_plugin_with_its_distribution(
    fresh_plugin_manager: PluginManager,
) -> None:
    assert get_plugin_manager() is fresh_plugin_manager
    assert fresh_plugin_manager.has_plugin("fake")
    assert fresh_plugin_manager.distributions["fake"] == "cqrs-fake"
    assert installed_schemes("message_broker")["fake"] == "fake"
    assert "fake" not in fresh_plugin_manager.failures


def test_a_declared_scheme_and_an_older_hook_from_one_third_party(
    fresh_plugin_manager: PluginManager,
) -> None:
    """`fake://` is declared; `fake-legacy://` is served by the older factory hook, which core
    asks only for a scheme nobody declares; both are listed."""
    entry = fresh_plugin_manager.schemes.find("message_broker", "fake")
    assert entry is not None
    assert entry.declaration is not None
    assert entry.declaration.factory == "cqrs_fake:FakeMessageBroker.from_url"
    older = fresh_plugin_manager.schemes.find("message_broker", "fake-legacy")
    assert older is not None
    assert older.declaration is None
    broker = make_message_broker("fake-legacy://old")
    assert isinstance(broker, FakeMessageBroker)
    assert broker.name == "old"
    assert installed_schemes("message_broker")["fake-legacy"] == "fake"


def test_disabled_autoload_leaves_fake_unknown_and_lists_installed_schemes(
    monkeypatch: pytest.MonkeyPatch, fresh_plugin_manager: PluginManager
) -> None:
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    set_plugin_manager(None)  # the next use builds the process manager anew, honouring the env
    with pytest.raises(UnknownSchemeError) as caught:
        make_message_broker("fake://x")
    assert not get_plugin_manager().has_plugin("fake")
    text = str(caught.value)
    assert "fake://" in text
    assert "memory:// (cqrs-core)" in text
    assert "devnull:// (cqrs-core)" in text
    assert "(fake)" not in text


@pytest.mark.parametrize("fresh_plugin_manager", [False], indirect=True)
def test_fixture_parameter_turns_autoload_off(fresh_plugin_manager: PluginManager) -> None:
    assert not fresh_plugin_manager.has_plugin("fake")
    assert set(installed_schemes("message_broker")) == {"memory", "devnull"}


def test_plugin_that_fails_to_import_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = importlib.metadata.entry_points

    broken = importlib.metadata.EntryPoint(
        name="broken", value="cqrs_no_such_module_anywhere._plugin", group=ENTRY_POINT_GROUP
    )

    def with_a_broken_plugin(*, group: str) -> importlib.metadata.EntryPoints:
        found = list(real(group=group))
        if group == ENTRY_POINT_GROUP:
            found.insert(0, broken)
        return importlib.metadata.EntryPoints(found)

    monkeypatch.setattr(importlib.metadata, "entry_points", with_a_broken_plugin)
    with caplog.at_level(logging.WARNING, logger="cqrs.plugins"):
        manager = new_plugin_manager(autoload=True)
    assert "broken" in manager.failures
    assert "cqrs_no_such_module_anywhere" in manager.failures["broken"]
    assert not manager.has_plugin("broken")
    assert any("broken" in r.getMessage() for r in caplog.records)
    assert isinstance(make_message_broker("fake://still", manager), FakeMessageBroker)
    assert manager.distributions["fake"] == "cqrs-fake"
