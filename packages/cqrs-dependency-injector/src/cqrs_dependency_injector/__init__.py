"""The dependency-injector container adapter for cqrs (the library loads on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DependencyInjectorCQRSContainer", "ProviderNotFoundError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cqrs_dependency_injector import container

        return getattr(container, name)
    raise AttributeError(f"module 'cqrs_dependency_injector' has no attribute {name!r}")


if TYPE_CHECKING:
    from cqrs_dependency_injector.container import (
        DependencyInjectorCQRSContainer,
        ProviderNotFoundError,
    )
