"""The transactional outbox: its protocol, in-memory repository, row codec, relay and producer.

The protocol's names load with the package; the others on first access, so code that needs only
the protocol, the backoff policy or the topic rules does not load the relay and asyncio. The
contract suite, `cqrs.outbox.contract.OutboxRepositoryContract`, imports pytest and is left out.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cqrs.outbox.protocol import OutboxedEvent, OutboxedEventRepository, OutboxStats, OutboxStatus

_LAZY: dict[str, str] = {
    "EventProducer": "cqrs.outbox.producer",
    "ExponentialBackoff": "cqrs.backoff",
    "MemoryOutboxSession": "cqrs.outbox.memory",
    "MemoryOutboxedEventRepository": "cqrs.outbox.memory",
    "OutboxRelay": "cqrs.outbox.relay",
    "RelayBatch": "cqrs.outbox.relay",
    "RelayCounters": "cqrs.outbox.relay",
    "RowCodec": "cqrs.outbox.codec",
}

__all__ = [
    "EventProducer",
    "ExponentialBackoff",
    "MemoryOutboxSession",
    "MemoryOutboxedEventRepository",
    "OutboxRelay",
    "OutboxStats",
    "OutboxStatus",
    "OutboxedEvent",
    "OutboxedEventRepository",
    "RelayBatch",
    "RelayCounters",
    "RowCodec",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'cqrs.outbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from cqrs.backoff import ExponentialBackoff
    from cqrs.outbox.codec import RowCodec
    from cqrs.outbox.memory import MemoryOutboxedEventRepository, MemoryOutboxSession
    from cqrs.outbox.producer import EventProducer
    from cqrs.outbox.relay import OutboxRelay, RelayBatch, RelayCounters
