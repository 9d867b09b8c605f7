"""Handlers wired by the `di` library: the seeds' `setup_di()` container passed to bootstrap.

Run it with `uv run python examples/dependency_injection.py` (needs `cqrs-di`). The container
binds `MeetingAPIProtocol` to an implementation in the `request` scope, so the handler and the
audit it depends on share one instance per request and every request gets a new one. The raw
`di.Container` goes straight to bootstrap (the cqrs-di plugin adapts it); the adapter class
`cqrs.container.di.DIContainer` does the same when wrapped explicitly.
"""

# expect: ada joined meeting 1 (api #1, audit saw api #1)
# expect: grace joined meeting 1 (api #2, audit saw api #2)
# expect: linus joined meeting 2 (api #3, audit saw api #3)
# expect: participants: {1: ['ada', 'grace'], 2: ['linus']}

from __future__ import annotations

import asyncio
import itertools
from typing import Protocol

import di
from di.dependent import Dependent

import cqrs
from cqrs.container.di import DIContainer
from cqrs.requests import bootstrap

PARTICIPANTS: dict[int, list[str]] = {}
_API_NUMBERS = itertools.count(1)


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class MeetingAPIProtocol(Protocol):
    number: int

    async def join_user(self, user_id: str, meeting_id: int) -> None: ...


class MeetingAPIImplementation:
    """Stands in for a client of the meetings service, one per request."""

    def __init__(self) -> None:
        self.number = next(_API_NUMBERS)

    async def join_user(self, user_id: str, meeting_id: int) -> None:
        PARTICIPANTS.setdefault(meeting_id, []).append(user_id)


class Audit:
    """Another dependency of the handler, needing the same request-scoped API client."""

    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self.meetings_api = meetings_api

    def record(self) -> str:
        return f"audit saw api #{self.meetings_api.number}"


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, meetings_api: MeetingAPIProtocol, audit: Audit) -> None:
        self._meetings_api = meetings_api
        self._audit = audit

    async def handle(self, request: JoinMeetingCommand) -> None:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)
        print(
            f"{request.user_id} joined meeting {request.meeting_id} "
            f"(api #{self._meetings_api.number}, {self._audit.record()})"
        )


def setup_di() -> di.Container:
    """Binds implementations to dependencies."""
    container = di.Container()
    container.bind(
        di.bind_by_type(
            Dependent(MeetingAPIImplementation, scope="request"),
            MeetingAPIProtocol,
        )
    )
    return container


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler)


async def main() -> None:
    mediator = bootstrap.bootstrap(di_container=setup_di(), commands_mapper=commands_mapper)
    for user in ("ada", "grace"):
        await mediator.send(JoinMeetingCommand(user_id=user, meeting_id=1))

    wrapped = bootstrap.bootstrap(
        di_container=DIContainer(setup_di()), commands_mapper=commands_mapper
    )
    await wrapped.send(JoinMeetingCommand(user_id="linus", meeting_id=2))
    print(f"participants: {PARTICIPANTS}")


if __name__ == "__main__":
    asyncio.run(main())
