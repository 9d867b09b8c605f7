"""The transactional outbox: the repository protocol, the relay and the seeds' producer."""

from cqrs.outbox.backoff import ExponentialBackoff
from cqrs.outbox.producer import EventProducer
from cqrs.outbox.relay import OutboxRelay, RelayCounters
from cqrs.protocols.outbox import OutboxedEvent, OutboxedEventRepository, OutboxStats, OutboxStatus

__all__ = [
    "EventProducer",
    "ExponentialBackoff",
    "OutboxRelay",
    "OutboxStats",
    "OutboxStatus",
    "OutboxedEvent",
    "OutboxedEventRepository",
    "RelayCounters",
]
