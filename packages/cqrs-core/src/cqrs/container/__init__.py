"""Dependency injection: the `Container` protocol and the built-in container."""

from cqrs.container.builtin import BuiltinContainer, Lifetime
from cqrs.protocols.container import Container

__all__ = ["BuiltinContainer", "Container", "Lifetime"]
