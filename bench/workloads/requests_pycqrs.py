"""Request workloads on python-cqrs 5.3.0, written with its own API and default models.

The handlers are the same as in `requests_ours.py`; the mediator comes from 5.3.0's documented
`cqrs.bootstrap.requests.bootstrap` with a `di.Container` (it adds its `LoggingMiddleware` by
default, as every application using bootstrap gets). Importing python-cqrs sets the `cqrs`
logger to DEBUG, so that middleware builds two log records per send; the `@logger_warning`
loops measure the same sends with that logger set back to WARNING, as a configured app might.
"""

from __future__ import annotations

import logging
from collections import Counter

import di

import cqrs
from cqrs.bootstrap.requests import bootstrap
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
        di_container=di.Container(),
        commands_mapper=_commands,
        queries_mapper=_queries,
        domain_events_mapper=_events,
    )
    query = GetUser(user_id="u-1")
    command = RenameUser(user_id="u-1", name="Grace")
    loops = request_loops(mediator.send, GetUserHandler().handle, query, command)
    for key in ("send_query", "send_command_1_event"):
        loops[f"{key}@logger_warning"] = _logger_at_warning(loops[key])
    return loops


def _logger_at_warning(loop: Loop) -> Loop:
    async def run(n: int) -> None:
        logger = logging.getLogger("cqrs")
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            await loop(n)
        finally:
            logger.setLevel(level)

    return run
