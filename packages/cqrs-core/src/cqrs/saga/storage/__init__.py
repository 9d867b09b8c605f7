"""Saga storages: the protocol and the in-memory default."""

from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaConcurrencyError, SagaStorage

__all__ = ["MemorySagaStorage", "SagaConcurrencyError", "SagaStorage"]
