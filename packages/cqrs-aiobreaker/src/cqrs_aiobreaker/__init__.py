"""The seeds' `AioBreakerAdapter` for cqrs, on the aiobreaker library (loaded on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AioBreakerAdapter",
    "CriticalLogListener",
    "StorageFactory",
    "default_memory_storage_factory",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cqrs_aiobreaker import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module 'cqrs_aiobreaker' has no attribute {name!r}")


if TYPE_CHECKING:
    from cqrs_aiobreaker.adapter import (
        AioBreakerAdapter,
        CriticalLogListener,
        StorageFactory,
        default_memory_storage_factory,
    )
