"""The registry binding each saga context type to its saga."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cqrs.errors import HandlerNotBoundError
from cqrs.saga.saga import Saga

__all__ = ["SagaMap"]


class SagaMap:
    """Maps a context type to the `Saga` subclass run for it (`mediator.stream(context)`)."""

    def __init__(self) -> None:
        self._registry: dict[type, type[Saga[Any]]] = {}

    def bind(self, context_type: type, saga_type: type[Saga[Any]]) -> None:
        """Run `saga_type` for contexts of `context_type`; binding a type twice is an error."""
        if not (isinstance(saga_type, type) and issubclass(saga_type, Saga)):
            raise TypeError(f"expected a Saga subclass, got {saga_type!r}")
        if context_type in self._registry:
            raise KeyError(
                f"{context_type.__qualname__} is already bound to "
                f"{self._registry[context_type].__qualname__}"
            )
        self._registry[context_type] = saga_type

    def get(self, context_type: type) -> type[Saga[Any]]:
        """The saga bound to `context_type`; `HandlerNotBoundError` lists what is bound."""
        try:
            return self._registry[context_type]
        except KeyError:
            bound = ", ".join(sorted(t.__qualname__ for t in self._registry)) or "nothing"
            raise HandlerNotBoundError(
                f"no saga is bound for {context_type.__qualname__}; bound contexts: {bound}"
            ) from None

    def by_name(self, saga_name: str) -> tuple[type, type[Saga[Any]]]:
        """The context type and saga stored under `saga_name` (for recovery workers)."""
        for context_type, saga_type in self._registry.items():
            if saga_type.saga_name() == saga_name:
                return context_type, saga_type
        raise HandlerNotBoundError(f"no saga named {saga_name!r} is bound")

    def __iter__(self) -> Iterator[type]:
        return iter(self._registry)

    def items(self) -> Iterator[tuple[type, type[Saga[Any]]]]:
        """Each context type with its saga."""
        return iter(self._registry.items())
