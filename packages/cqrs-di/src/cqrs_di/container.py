"""`DIContainer`: the `di` library's container as a cqrs `Container`.

Example::

    container = di.Container()
    container.bind(di.bind_by_type(Dependent(MeetingAPI, scope="request"), MeetingAPIProtocol))
    mediator = cqrs.bootstrap.bootstrap(di_container=container, commands_mapper=...)
"""

from __future__ import annotations

from typing import Any, TypeVar

import di
from di.dependent import Dependent
from di.executors import AsyncExecutor

__all__ = ["DIContainer"]

T = TypeVar("T")


class DIContainer:
    """Resolves each type in a fresh `request` scope of the wrapped `di.Container`.

    Dependencies bound with `scope="request"` are shared within one resolution; the solved
    dependency graph of each type is computed once and cached.
    """

    def __init__(self, container: di.Container | None = None, *, scope: str = "request") -> None:
        self.external_container = container if container is not None else di.Container()
        self.scope = scope
        self._executor = AsyncExecutor()
        self._solved: dict[type, Any] = {}

    def attach_external_container(self, container: di.Container) -> None:
        """Use `container` from now on (the solved graphs are recomputed)."""
        self.external_container = container
        self._solved.clear()

    async def resolve(self, type_: type[T]) -> T:
        solved = self._solved.get(type_)
        if solved is None:
            solved = self._solved[type_] = self.external_container.solve(
                Dependent(type_, scope=self.scope), scopes=[self.scope]
            )
        async with self.external_container.enter_scope(self.scope) as state:
            result: T = await solved.execute_async(executor=self._executor, state=state)
        return result
