"""The saga storage contract suite at its former path; its home is `cqrs.saga.storage.contract`."""

from cqrs.saga.storage.contract import SagaStorageContract

__all__ = ["SagaStorageContract"]
