"""`DependencyInjectorCQRSContainer`: a dependency-injector container as a cqrs `Container`.

Example::

    class ApplicationContainer(containers.DeclarativeContainer):
        service = providers.Factory(ServiceImplementation)

    cqrs_container = DependencyInjectorCQRSContainer(ApplicationContainer())
    mediator = bootstrap.bootstrap(di_container=cqrs_container, commands_mapper=...)
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, TypeVar

__all__ = ["DependencyInjectorCQRSContainer"]

T = TypeVar("T")


class DependencyInjectorCQRSContainer:
    """Resolves a type from the provider that provides it (or a subclass of it); types no
    provider covers (handlers, usually) are built from their `__init__` annotations: each
    parameter from the provider of its type, else the provider with the parameter's name (how
    protocols are usually wired), else built the same way."""

    def __init__(self, container: Any = None) -> None:
        self.external_container: Any = container
        self._providers: dict[type, Any] = {}

    def attach_external_container(self, container: Any) -> None:
        """Use `container` from now on."""
        self.external_container = container
        self._providers.clear()

    def _provider(self, type_: type) -> Any:
        if type_ in self._providers:
            return self._providers[type_]
        found = None
        if self.external_container is not None:
            for provider in self.external_container.traverse():
                provided = getattr(provider, "cls", None) or getattr(provider, "provides", None)
                if isinstance(provided, type) and (
                    provided is type_ or (isinstance(type_, type) and _is_subclass(provided, type_))
                ):
                    found = provider
                    break
        self._providers[type_] = found
        return found

    async def resolve(self, type_: type[T]) -> T:
        provider = self._provider(type_)
        if provider is not None:
            return typing.cast(T, await _provide(provider))
        hints = (
            typing.get_type_hints(type_.__init__) if type_.__init__ is not object.__init__ else {}
        )
        parameters = inspect.signature(type_).parameters
        kwargs = {}
        for name, parameter in parameters.items():
            hint = hints.get(name)
            if hint is None or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            named = getattr(self.external_container, name, None)
            if self._provider(hint) is None and _is_provider(named):
                kwargs[name] = await _provide(named)
                continue
            if parameter.default is not parameter.empty and self._provider(hint) is None:
                continue
            kwargs[name] = await self.resolve(hint)
        return type_(**kwargs)


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
