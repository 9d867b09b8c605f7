"""`DependencyInjectorCQRSContainer`: a dependency-injector container as a cqrs `Container`.

Example::

    class ApplicationContainer(containers.DeclarativeContainer):
        service = providers.Factory(ServiceImplementation)

    cqrs_container = DependencyInjectorCQRSContainer(ApplicationContainer())
    mediator = bootstrap.bootstrap(di_container=cqrs_container, commands_mapper=...)
"""

from __future__ import annotations

import builtins
import inspect
import typing
from typing import Any, TypeVar

from cqrs.errors import ContainerError

__all__ = ["DependencyInjectorCQRSContainer", "ProviderNotFoundError"]

T = TypeVar("T")


class ProviderNotFoundError(ContainerError, ValueError):
    """No provider gives the requested type and it cannot be built; a `ValueError` with
    python-cqrs 4.x's message, so 4.x code catching that keeps working."""

    def __init__(self, type_: Any) -> None:
        name = getattr(type_, "__name__", repr(type_))
        super().__init__(
            f"Provider for type {name} not found. "
            "Ensure the type is registered in the dependency-injector container."
        )
        self.type = type_


class DependencyInjectorCQRSContainer:
    """Resolves a type from the provider that provides it (or a subclass of it).

    Types no provider covers (handlers, usually) are built from their `__init__` annotations:
    each parameter from the provider of its type, else the provider with the parameter's name
    (how protocols are usually wired), else built the same way. Protocols, abstract classes and
    builtins are never built; they raise `ProviderNotFoundError`, as does every type without a
    provider when `autowire=False` (python-cqrs 4.x's behaviour, where handlers are providers).
    """

    def __init__(self, container: Any = None, *, autowire: bool = True) -> None:
        self._container: Any = container
        self.autowire = autowire
        self._providers: dict[Any, Any] = {}

    @property
    def external_container(self) -> Any:
        """The wrapped dependency-injector container; `ValueError` before one is attached."""
        if self._container is None:
            raise ValueError("External container not attached")
        return self._container

    def attach_external_container(self, container: Any) -> None:
        """Use `container` from now on."""
        self._container = container
        self._providers.clear()

    def _provider(self, type_: Any) -> Any:
        if type_ in self._providers:
            return self._providers[type_]
        found = None
        if self._container is not None and isinstance(type_, type):
            for provider in self._container.traverse():
                provided = _provided_type(provider)
                if provided is not None and (provided is type_ or _is_subclass(provided, type_)):
                    found = provider
                    break
        self._providers[type_] = found
        return found

    async def resolve(self, type_: type[T]) -> T:
        provider = self._provider(type_)
        if provider is not None:
            return typing.cast(T, await _provide(provider))
        if not self.autowire or not _buildable(type_):
            raise ProviderNotFoundError(type_)
        hints = (
            typing.get_type_hints(type_.__init__) if type_.__init__ is not object.__init__ else {}
        )
        parameters = inspect.signature(type_).parameters
        kwargs = {}
        for name, parameter in parameters.items():
            hint = hints.get(name)
            if hint is None or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            named = getattr(self._container, name, None)
            if self._provider(hint) is None and _is_provider(named):
                kwargs[name] = await _provide(named)
                continue
            if parameter.default is not parameter.empty and self._provider(hint) is None:
                continue
            kwargs[name] = await self.resolve(hint)
        return type_(**kwargs)


def _provided_type(provider: Any) -> type | None:
    """The class a provider gives: its `cls` or `provides`, or a factory function's annotated
    return class (python-cqrs 4.x matches those too)."""
    provided = getattr(provider, "cls", None) or getattr(provider, "provides", None)
    if isinstance(provided, type):
        return provided
    if inspect.isfunction(provided):
        try:
            returned = typing.get_type_hints(provided).get("return")
        except Exception:  # an annotation that does not resolve says nothing about the type
            return None
        return returned if isinstance(returned, type) else None
    return None


def _buildable(type_: Any) -> bool:
    """Whether the container may build `type_` itself: a concrete class of the application."""
    return (
        isinstance(type_, type)
        and type_.__module__ != builtins.__name__
        and not getattr(type_, "_is_protocol", False)
        and not inspect.isabstract(type_)
    )


def _is_subclass(candidate: type, base: type) -> bool:
    try:
        return issubclass(candidate, base)
    except TypeError:
        return False


def _is_provider(value: Any) -> bool:
    return value is not None and type(value).__module__.startswith("dependency_injector")


async def _provide(provider: Any) -> Any:
    result = provider()
    if inspect.isawaitable(result):
        result = await result
    return result
