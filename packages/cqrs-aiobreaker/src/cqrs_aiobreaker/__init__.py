"""The seeds' `AioBreakerAdapter` for cqrs, on the aiobreaker library (loaded on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["AioBreakerAdapter"]


def __getattr__(name: str) -> Any:
    if name == "AioBreakerAdapter":
        from cqrs_aiobreaker.adapter import AioBreakerAdapter

        return AioBreakerAdapter
    raise AttributeError(f"module 'cqrs_aiobreaker' has no attribute {name!r}")


if TYPE_CHECKING:
    from cqrs_aiobreaker.adapter import AioBreakerAdapter
