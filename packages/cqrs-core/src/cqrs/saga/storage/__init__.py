"""Saga storages: the protocol, the in-memory default, the python-cqrs 4.x bridges and (in
`contract`) the contract suite."""

from typing import Any

from cqrs.saga.storage._pycqrs4 import Pycqrs4StorageMethods, default_owner
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaConcurrencyError, SagaLeaseLostError, SagaStorage
from cqrs.saga.storage.pycqrs4_storage import Pycqrs4SagaStorage, as_saga_storage

__all__ = [
    "MemorySagaStorage",
    "Pycqrs4SagaStorage",
    "Pycqrs4StorageMethods",
    "SagaConcurrencyError",
    "SagaLeaseLostError",
    "SagaStorage",
    "as_saga_storage",
    "default_owner",
]


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
