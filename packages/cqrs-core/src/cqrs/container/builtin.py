"""The built-in dependency container: builds objects from their `__init__` type hints."""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from cqrs.errors import ContainerError

if TYPE_CHECKING:
    from typing_extensions import TypeForm
    from typing_extensions import TypeVar as _TypeVar

    _KeyT = _TypeVar("_KeyT", default=Any)  # `Any`, not `Never`, where TypeForm is unknown

__all__ = ["BuiltinContainer", "Lifetime"]

T = TypeVar("T")
Lifetime = Literal["singleton", "request", "transient"]
"""`singleton`: one per container; `request`: one per scope; `transient`: new on every use."""

_Scope = dict[type, Any]
_Factory = Callable[[_Scope], Any]
_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("cqrs_scope", default=None)
_UNWIRED = (str, int, float, bool, bytes, dict, list, set, tuple, object)


def _key(type_: Any) -> Any:
    """The registry key of `type_`: `Repo[Any]` (every argument `Any`) stands for `Repo`."""
    args = typing.get_args(type_)
    if args and typing.get_origin(type_) is not None and all(arg is Any for arg in args):
        return typing.get_origin(type_)
    return type_


class _Registration:
    __slots__ = ("lifetime", "provider")

    def __init__(self, provider: Callable[..., Any], lifetime: Lifetime) -> None:
        self.provider = provider
        self.lifetime = lifetime


class BuiltinContainer:
    """Resolves a type by calling its registered provider (or the type itself) with dependencies
    resolved from the provider's `__init__` annotations.

    Unregistered concrete classes are built on demand as transients, so handlers need no
    registration; interfaces (protocols, ABCs) need `register(Interface, Implementation)`.
    """

    def __init__(self) -> None:
        self._registrations: dict[type, _Registration] = {}
        self._singletons: dict[type, Any] = {}
        self._compiled: dict[type, tuple[_Factory, bool]] = {}
        self._direct: dict[type, Callable[[], Any]] = {}

    # Each method taking a key has two overloads: `type[T]`, as before PEP 747, then
    # `TypeForm[_KeyT]`, which also admits protocols and ABCs (mypy refuses those as `type[T]`
    # with `type-abstract`). Type checkers without TypeForm see `Any` for those keys.
    @overload
    def register(
        self,
        type_: type[T],
        provider: Callable[..., T] | None = None,
        *,
        lifetime: Lifetime = "transient",
    ) -> None: ...
    @overload
    def register(
        self,
        type_: TypeForm[_KeyT],
        provider: Callable[..., _KeyT] | None = None,
        *,
        lifetime: Lifetime = "transient",
    ) -> None: ...
    def register(
        self,
        type_: Any,
        provider: Callable[..., Any] | None = None,
        *,
        lifetime: Lifetime = "transient",
    ) -> None:
        """Provide `type_` (a class, protocol or ABC) by calling `provider` (a class or a
        factory; default `type_`).

        A generic key whose arguments are all `Any` (`Repo[Any]`) is registered as its origin
        (`Repo`), which also provides every parametrization (`Repo[int]`).
        """
        if lifetime not in ("singleton", "request", "transient"):
            raise ValueError(f"unknown lifetime {lifetime!r}")
        key = _key(type_)
        self._registrations[key] = _Registration(provider or type_, lifetime)
        self._singletons.pop(key, None)
        self._compiled.clear()
        self._direct.clear()

    @overload
    def register_instance(self, type_: type[T], instance: T) -> None: ...
    @overload
    def register_instance(self, type_: TypeForm[_KeyT], instance: _KeyT) -> None: ...
    def register_instance(self, type_: Any, instance: Any) -> None:
        """Always provide this very object for `type_` (a class, protocol or ABC)."""
        self.register(type_, lambda: instance, lifetime="singleton")
        self._singletons[_key(type_)] = instance

    @overload
    async def resolve(self, type_: type[T]) -> T: ...
    @overload
    async def resolve(self, type_: TypeForm[_KeyT]) -> _KeyT: ...
    async def resolve(self, type_: Any) -> Any:
        """Build (or reuse, per its lifetime) an instance of `type_`."""
        return self.get(type_)

    @overload
    def get(self, type_: type[T]) -> T: ...
    @overload
    def get(self, type_: TypeForm[_KeyT]) -> _KeyT: ...
    def get(self, type_: Any) -> Any:
        """Synchronous `resolve`."""
        return self.factory(type_)()

    @overload
    def factory(self, type_: type[T]) -> Callable[[], T]: ...
    @overload
    def factory(self, type_: TypeForm[_KeyT]) -> Callable[[], _KeyT]: ...
    def factory(self, type_: Any) -> Callable[[], Any]:
        """A zero-argument callable building `type_`, compiled once; mediators cache it."""
        build, scoped = self._compile(type_, ())
        direct = self._direct.get(type_)
        if direct is not None:
            return direct
        if not scoped:
            return lambda: build({})

        def _in_scope() -> Any:
            scope = _scope.get()
            return build({} if scope is None else scope)

        return _in_scope

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Share `request`-lifetime objects among everything resolved inside the block."""
        token = _scope.set({})
        try:
            yield
        finally:
            _scope.reset(token)

    def _compile(self, type_: type, chain: tuple[type, ...]) -> tuple[_Factory, bool]:
        compiled = self._compiled.get(type_)
        if compiled is not None:
            return compiled
        if type_ in chain:
            path = " -> ".join(t.__qualname__ for t in (*chain, type_))
            raise ContainerError(f"circular dependency: {path}")
        reg = self._registrations.get(type_)
        origin = typing.get_origin(type_)
        if reg is None and origin is not None and origin in self._registrations:
            return self._compile(origin, chain)  # `Repo[int]` is whatever provides `Repo`
        if reg is None:
            if (
                not isinstance(type_, type)
                or type_ in _UNWIRED
                or inspect.isabstract(type_)
                or (getattr(type_, "_is_protocol", False))
            ):
                where = f" (needed by {chain[-1].__qualname__})" if chain else ""
                raise ContainerError(
                    f"cannot build {getattr(type_, '__qualname__', type_)!s}{where}: register it "
                    f"with container.register({getattr(type_, '__name__', type_)}, Implementation)"
                )
            reg = _Registration(type_, "transient")
        compiled = self._compile_registration(type_, reg, (*chain, type_))
        self._compiled[type_] = compiled
        return compiled

    def _compile_registration(
        self, type_: type, reg: _Registration, chain: tuple[type, ...]
    ) -> tuple[_Factory, bool]:
        provider = reg.provider
        deps = [
            (name, *self._compile(hint, chain))
            for name, hint in self._dependencies(provider, chain)
        ]
        scoped = reg.lifetime == "request" or any(s for _, _, s in deps)
        if deps:

            def create(scope: _Scope) -> Any:
                return provider(**{name: build(scope) for name, build, _ in deps})

        else:
            if reg.lifetime == "transient":
                self._direct[type_] = provider

            def create(scope: _Scope) -> Any:
                return provider()

        if reg.lifetime == "singleton":
            singletons = self._singletons

            def singleton(scope: _Scope) -> Any:
                try:
                    return singletons[type_]
                except KeyError:
                    instance = singletons[type_] = create(scope)
                    return instance

            return singleton, False
        if reg.lifetime == "request":

            def per_request(scope: _Scope) -> Any:
                try:
                    return scope[type_]
                except KeyError:
                    instance = scope[type_] = create(scope)
                    return instance

            return per_request, True
        return create, scoped

    @staticmethod
    def _dependencies(
        provider: Callable[..., Any], chain: tuple[type, ...]
    ) -> list[tuple[str, Any]]:
        target: Any = provider
        if isinstance(provider, type):
            target = target.__init__
        if target is object.__init__:
            return []
        try:
            signature = inspect.signature(target)
            hints = typing.get_type_hints(target)
        except (TypeError, ValueError, NameError) as exc:
            raise ContainerError(f"cannot read the parameters of {provider!r}: {exc}") from exc
        deps: list[tuple[str, Any]] = []
        for name, param in signature.parameters.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            hint = hints.get(name)
            if param.default is not param.empty and (
                hint is None or hint in _UNWIRED or not isinstance(hint, type)
            ):
                continue
            if hint is None:
                raise ContainerError(
                    f"parameter {name!r} of {getattr(provider, '__qualname__', provider)} has no "
                    "type annotation, so the container cannot tell what to inject"
                )
            deps.append((name, hint))
        return deps
