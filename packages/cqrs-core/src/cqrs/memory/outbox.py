"""The in-memory outbox at its former path; its home is `cqrs.outbox.memory`."""

from cqrs.outbox.memory import MemoryOutboxedEventRepository, MemoryOutboxSession

__all__ = ["MemoryOutboxSession", "MemoryOutboxedEventRepository"]
