"""The dependency-injector container adapter for cqrs (the library loads on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DependencyInjectorCQRSContainer"]


def __getattr__(name: str) -> Any:
    if name == "DependencyInjectorCQRSContainer":
        from cqrs_dependency_injector.container import DependencyInjectorCQRSContainer

        return DependencyInjectorCQRSContainer
    raise AttributeError(f"module 'cqrs_dependency_injector' has no attribute {name!r}")


if TYPE_CHECKING:
    from cqrs_dependency_injector.container import DependencyInjectorCQRSContainer
