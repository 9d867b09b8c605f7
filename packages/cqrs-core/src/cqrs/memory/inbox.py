"""The in-memory inbox at its former path; its home is `cqrs.inbox.memory`."""

from cqrs.inbox.memory import MemoryInbox, MemoryInboxSession

__all__ = ["MemoryInbox", "MemoryInboxSession"]
