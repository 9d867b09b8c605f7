"""The `di` container adapter for cqrs (the library loads on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DIContainer"]


def __getattr__(name: str) -> Any:
    if name == "DIContainer":
        from cqrs_di.container import DIContainer

        return DIContainer
    raise AttributeError(f"module 'cqrs_di' has no attribute {name!r}")


if TYPE_CHECKING:
    from cqrs_di.container import DIContainer
