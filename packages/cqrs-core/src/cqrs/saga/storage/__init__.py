"""Saga storages: the protocol and the in-memory default."""

from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaConcurrencyError, SagaLeaseLostError, SagaStorage

__all__ = ["MemorySagaStorage", "SagaConcurrencyError", "SagaLeaseLostError", "SagaStorage"]
