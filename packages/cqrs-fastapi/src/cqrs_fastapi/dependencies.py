"""FastAPI dependencies that hand a mediator to a route inside a per-request container scope.

Example::

    container = cqrs.BuiltinContainer()
    container.register(UnitOfWork, lifetime="request")
    mediator = bootstrap.bootstrap(di_container=container, commands_mapper=commands)
    Mediator = mediator_dependency(lambda: mediator, container=container)

    @app.post("/meetings")
    async def create(mediator: cqrs.RequestMediator = fastapi.Depends(Mediator)) -> dict: ...
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["ScopedContainer", "mediator_dependency", "request_scope"]

M = TypeVar("M")


@runtime_checkable
class ScopedContainer(Protocol):
    """A container with a request scope, such as `cqrs.BuiltinContainer`: objects registered
    with the `request` lifetime are shared inside one `scope()` and fresh in the next.

    `scope()` may return a synchronous or an asynchronous context manager.
    """

    def scope(
        self,
    ) -> contextlib.AbstractContextManager[Any] | contextlib.AbstractAsyncContextManager[Any]: ...


@contextlib.asynccontextmanager
async def request_scope(container: object | None) -> AsyncIterator[None]:
    """Enter `container`'s request scope for the block if it has a `scope()` method; other
    containers (and `None`) get no scope, each resolution then stands alone."""
    scope = getattr(container, "scope", None)
    if not callable(scope):
        yield
        return
    manager = scope()
    if isinstance(manager, contextlib.AbstractAsyncContextManager):
        async with manager:
            yield
    else:
        with manager:
            yield


def mediator_dependency(
    factory: Callable[[], M], *, container: object | None = None
) -> Callable[[], AsyncIterator[M]]:
    """A `Depends`-ready dependency yielding `factory()` (typically cached) while the request
    runs inside `container`'s request scope, so request-lifetime services are shared by every
    handler the request reaches and released once the response is sent."""

    async def dependency() -> AsyncIterator[M]:
        async with request_scope(container):
            yield factory()

    dependency.__name__ = f"mediator_from_{getattr(factory, '__name__', 'factory')}"
    return dependency
