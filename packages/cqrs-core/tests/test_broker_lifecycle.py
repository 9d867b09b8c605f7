"""A broker's lifecycle: the built-in brokers open and close idempotently, a broker made from a
URL always has `connect()` and `close()`, and a plugin whose broker lacks them is named."""

from __future__ import annotations

from typing import Any

import pytest

import cqrs
from cqrs.brokers import (
    BrokerLifecycle,
    DevnullMessageBroker,
    ManagedMessageBroker,
    MemoryMessageBroker,
    MessageBroker,
)
from cqrs.errors import PluginError
from cqrs.plugins import (
    MESSAGE_BROKER,
    PluginManager,
    SchemeDeclaration,
    hookimpl,
    make_message_broker,
    new_plugin_manager,
)


class SendOnly:
    """A broker with nothing to open or close, as applications may pass one directly."""

    __module__ = "cqrs_bare.broker"

    def __init__(self, url: str = "") -> None:
        self.url = url

    async def send_message(self, message: cqrs.Message) -> None:
        pass


class ClosesOnly(SendOnly):
    async def close(self) -> None:
        pass


class Declaring:
    @hookimpl
    def cqrs_declare_schemes(self) -> list[SchemeDeclaration]:
        return [
            SchemeDeclaration(MESSAGE_BROKER, "bare", SendOnly),
            SchemeDeclaration(MESSAGE_BROKER, "half", ClosesOnly),
        ]


class Older:
    @hookimpl
    def cqrs_make_message_broker(self, url: str) -> SendOnly | None:
        return SendOnly(url) if url.startswith("zmq://") else None


@pytest.fixture
def manager() -> PluginManager:
    return new_plugin_manager(autoload=False)


def _message() -> cqrs.Message:
    return cqrs.Message(topic="t", payload=b"{}", message_name="M")


def test_the_protocols_are_exported_everywhere() -> None:
    assert cqrs.ManagedMessageBroker is ManagedMessageBroker
    assert cqrs.BrokerLifecycle is BrokerLifecycle
    assert cqrs.protocols.ManagedMessageBroker is ManagedMessageBroker
    assert cqrs.protocols.BrokerLifecycle is BrokerLifecycle


def test_a_managed_broker_is_a_broker_with_a_lifecycle() -> None:
    assert isinstance(MemoryMessageBroker(), ManagedMessageBroker)
    assert isinstance(DevnullMessageBroker(), ManagedMessageBroker)
    assert isinstance(SendOnly(), MessageBroker)
    assert not isinstance(SendOnly(), BrokerLifecycle)
    assert not isinstance(ClosesOnly(), ManagedMessageBroker)


async def test_the_memory_broker_opens_and_closes_idempotently() -> None:
    broker = MemoryMessageBroker()
    await broker.close()
    await broker.close()
    with pytest.raises(RuntimeError, match="closed"):
        await broker.send_message(_message())
    opened = MemoryMessageBroker()
    await opened.connect()
    await opened.connect()
    await opened.send_message(_message())
    assert len(opened.messages["t"]) == 1


async def test_the_devnull_broker_opens_and_closes_idempotently() -> None:
    broker = DevnullMessageBroker()
    await broker.close()
    await broker.connect()
    await broker.connect()
    await broker.send_message(_message())
    await broker.close()
    await broker.close()
    assert broker.dropped == 1


@pytest.mark.parametrize("url", ["memory://", "devnull://"])
async def test_a_broker_made_from_a_url_can_be_opened_and_closed(
    url: str, manager: PluginManager
) -> None:
    broker = make_message_broker(url, manager)
    assert isinstance(broker, ManagedMessageBroker)
    await broker.connect()
    await broker.send_message(_message())
    await broker.close()


def test_a_declared_broker_without_a_lifecycle_names_its_plugin(manager: PluginManager) -> None:
    manager.register(Declaring(), name="bare-plugin")
    with pytest.raises(PluginError) as info:
        make_message_broker("bare://user:s3cret@h", manager)
    text = str(info.value)
    assert text.startswith(
        "plugin 'bare-plugin' built a cqrs_bare.broker.SendOnly for bare://user:***@h "
        "without connect() and close(): a message broker made from a URL must have async "
        "connect() and close()"
    )
    assert "s3cret" not in text
    with pytest.raises(PluginError, match=r"'bare-plugin' built .*Only .* without connect\(\):"):
        make_message_broker("half://h", manager)


def test_an_older_plugin_without_a_listing_is_named_by_its_module(
    manager: PluginManager,
) -> None:
    manager.register(Older(), name="zmq")
    with pytest.raises(PluginError, match=r"^plugin 'cqrs_bare' built a cqrs_bare\.broker\."):
        make_message_broker("zmq://h", manager)


def test_a_broker_given_directly_needs_no_lifecycle() -> None:
    broker = SendOnly()
    mediator: Any = cqrs.bootstrap.bootstrap(message_broker=broker)
    assert mediator.event_processor.emitter.message_broker is broker
