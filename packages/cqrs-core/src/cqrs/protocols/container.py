"""The dependency-injection boundary: anything that can build a handler from its type."""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["Container"]

T = TypeVar("T")


@runtime_checkable
class Container(Protocol):
    """Builds instances by type; mediators ask it for a fresh handler on every request."""

    async def resolve(self, type_: type[T]) -> T: ...
