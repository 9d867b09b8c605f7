"""In-memory implementations of the protocols: the embedded defaults, also used by tests."""

from cqrs.breakers.memory import MemoryBreakerStateStore, MemoryCircuitBreaker
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.outbox.memory import MemoryOutboxedEventRepository, MemoryOutboxSession

__all__ = [
    "MemoryBreakerStateStore",
    "MemoryCircuitBreaker",
    "MemoryMessageBroker",
    "MemoryOutboxSession",
    "MemoryOutboxedEventRepository",
]
