"""The built-in plugin: brokers that need no third-party library."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_make_message_broker(url: str) -> Any:
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        from cqrs.memory.message_broker import MemoryMessageBroker

        return MemoryMessageBroker()
    if scheme == "devnull":
        from cqrs.message_brokers.devnull import DevnullMessageBroker

        return DevnullMessageBroker()
    return None


@hookimpl
def cqrs_make_outbox_repository(url: str) -> Any:
    if url.partition("://")[0].lower() != "memory":
        return None
    from cqrs.memory.outbox import MemoryOutboxedEventRepository

    return MemoryOutboxedEventRepository()


@hookimpl
def cqrs_make_saga_storage(url: str) -> Any:
    if url.partition("://")[0].lower() != "memory":
        return None
    from cqrs.saga.storage.memory import MemorySagaStorage

    return MemorySagaStorage()


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    return {
        "message_broker": ["memory", "devnull"],
        "outbox": ["memory"],
        "saga_storage": ["memory"],
    }
