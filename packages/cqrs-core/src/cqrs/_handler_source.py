"""Building handlers through a container, with a synchronous fast path for the built-in one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cqrs.container.builtin import BuiltinContainer
from cqrs.protocols.container import Container

__all__: list[str] = []


class HandlerSource:
    """Asks the container for a new handler per use, caching the built-in container's factories."""

    __slots__ = ("_container", "_factories", "plans")

    def __init__(self, container: Container) -> None:
        self._container = container
        self._factories: dict[type, Callable[[], Any]] = {}
        self.plans: dict[Any, Any] = {}
        """Per-saga-type step plans, cached by the saga engine for this container."""

    def factory(self, handler_type: type) -> Callable[[], Any] | None:
        """A synchronous factory for `handler_type`, or `None` if the container is async-only."""
        factory = self._factories.get(handler_type)
        if factory is None and isinstance(self._container, BuiltinContainer):
            factory = self._factories[handler_type] = self._container.factory(handler_type)
        return factory

    async def build(self, handler_type: type) -> Any:
        """A new handler of `handler_type`."""
        factory = self.factory(handler_type)
        if factory is not None:
            return factory()
        return await self._container.resolve(handler_type)
