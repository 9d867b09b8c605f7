"""Saga storages: the protocol, the in-memory default and (in `contract`) the contract suite."""

from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaConcurrencyError, SagaLeaseLostError, SagaStorage

__all__ = ["MemorySagaStorage", "SagaConcurrencyError", "SagaLeaseLostError", "SagaStorage"]
