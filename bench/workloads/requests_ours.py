"""Request workloads on our side: query send, command send with one domain event, bare handler."""

from __future__ import annotations

from collections import Counter

import cqrs
from cqrs.requests.bootstrap import bootstrap
from workloads import Loop
from workloads._loops import request_loops

__all__ = ["COUNTERS", "build"]

COUNTERS: Counter[str] = Counter()


class GetUser(cqrs.Request):
    user_id: str


class UserView(cqrs.Response):
    user_id: str
    name: str


class RenameUser(cqrs.Request):
    user_id: str
    name: str


class UserRenamed(cqrs.DomainEvent):
    user_id: str
    name: str


class GetUserHandler(cqrs.RequestHandler[GetUser, UserView]):
    async def handle(self, request: GetUser) -> UserView:
        COUNTERS["queries_handled"] += 1
        return UserView(user_id=request.user_id, name="Ada")


class RenameUserHandler(cqrs.RequestHandler[RenameUser, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.DomainEvent] = []

    @property
    def events(self) -> list[cqrs.DomainEvent]:
        return self._events

    async def handle(self, request: RenameUser) -> None:
        COUNTERS["commands_handled"] += 1
        self._events.append(UserRenamed(user_id=request.user_id, name=request.name))


class UserRenamedHandler(cqrs.EventHandler[UserRenamed]):
    async def handle(self, event: UserRenamed) -> None:
        COUNTERS["events_handled"] += 1


def _queries(mapper: cqrs.RequestMap) -> None:
    mapper.bind(GetUser, GetUserHandler)


def _commands(mapper: cqrs.RequestMap) -> None:
    mapper.bind(RenameUser, RenameUserHandler)


def _events(mapper: cqrs.EventMap) -> None:
    mapper.bind(UserRenamed, UserRenamedHandler)


async def build() -> dict[str, Loop]:
    """The loops of this family, keyed as in `workloads.ROWS`."""
    mediator = bootstrap(
        commands_mapper=_commands, queries_mapper=_queries, domain_events_mapper=_events
    )
    query = GetUser(user_id="u-1")
    command = RenameUser(user_id="u-1", name="Grace")
    return request_loops(mediator.send, GetUserHandler().handle, query, command)
