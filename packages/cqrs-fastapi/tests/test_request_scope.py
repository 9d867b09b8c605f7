"""`request_scope` and `mediator_dependency` with the kinds of container users bring."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import cqrs
from cqrs_fastapi import mediator_dependency, request_scope


class Session:
    """A request-lifetime object."""


class SyncScoped:
    """A container whose `scope()` is a plain context manager."""

    def __init__(self) -> None:
        self.log: list[str] = []

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        self.log.append("enter")
        yield
        self.log.append("exit")


class AsyncScoped:
    """A container whose `scope()` is an asynchronous context manager."""

    def __init__(self) -> None:
        self.log: list[str] = []

    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[None]:
        self.log.append("enter")
        yield
        self.log.append("exit")


class NamedScope:
    """Like `cqrs_di.DIContainer`: `scope` is the name of a scope, not a method."""

    scope = "request"


async def test_sync_and_async_scopes_are_entered_and_exited() -> None:
    for container in (SyncScoped(), AsyncScoped()):
        async with request_scope(container):
            assert container.log == ["enter"]
        assert container.log == ["enter", "exit"]


async def test_containers_without_a_scope_method_get_no_scope() -> None:
    for container in (NamedScope(), object(), None):
        async with request_scope(container):
            pass


async def test_the_dependency_shares_request_objects_within_one_scope_only() -> None:
    container = cqrs.BuiltinContainer()
    container.register(Session, lifetime="request")
    dependency = mediator_dependency(lambda: container, container=container)
    seen: list[tuple[Session, Session]] = []
    for _ in range(2):
        resolutions = dependency()
        got = await anext(resolutions)
        seen.append((got.get(Session), got.get(Session)))
        await resolutions.aclose()
    assert seen[0][0] is seen[0][1]
    assert seen[1][0] is seen[1][1]
    assert seen[0][0] is not seen[1][0]
