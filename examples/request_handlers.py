"""The seeds' meeting commands and queries: one handler per request, a service injected into both.

Run it with `uv run python examples/request_handlers.py`. `JoinMeetingCommand` changes state
through a `MeetingAPIProtocol` (the container builds the registered implementation) and returns
nothing; `ReadMeetingQuery` reads it back as a `ReadMeetingQueryResult`. A request type nobody
bound fails with `HandlerNotBoundError`.
"""

# expect: join meeting 1 as ada -> None
# expect: read meeting 1 -> link=https://meet.example.com/1 participants=['ada', 'grace']
# expect: not bound: LeaveMeetingCommand

from __future__ import annotations

import asyncio
from typing import Protocol

import cqrs
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import RequestHandler


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class LeaveMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class ReadMeetingQuery(cqrs.Request):
    meeting_id: int


class ReadMeetingQueryResult(cqrs.Response):
    meeting_id: int
    link: str
    participants: list[str]


class MeetingAPIProtocol(Protocol):
    async def join_user(self, user_id: str, meeting_id: int) -> None: ...

    async def get_link(self, meeting_id: int) -> str: ...

    async def participants(self, meeting_id: int) -> list[str]: ...


class InMemoryMeetingAPI:
    """Stands in for the meetings service the handlers talk to."""

    def __init__(self) -> None:
        self._participants: dict[int, list[str]] = {}

    async def join_user(self, user_id: str, meeting_id: int) -> None:
        self._participants.setdefault(meeting_id, []).append(user_id)

    async def get_link(self, meeting_id: int) -> str:
        return f"https://meet.example.com/{meeting_id}"

    async def participants(self, meeting_id: int) -> list[str]:
        return list(self._participants.get(meeting_id, []))


class JoinMeetingCommandHandler(RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    async def handle(self, request: JoinMeetingCommand) -> None:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)


class ReadMeetingQueryHandler(RequestHandler[ReadMeetingQuery, ReadMeetingQueryResult]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    async def handle(self, request: ReadMeetingQuery) -> ReadMeetingQueryResult:
        return ReadMeetingQueryResult(
            meeting_id=request.meeting_id,
            link=await self._meetings_api.get_link(request.meeting_id),
            participants=await self._meetings_api.participants(request.meeting_id),
        )


def init_commands(mapper: cqrs.RequestMap) -> None:
    mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler)


def init_queries(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ReadMeetingQuery, ReadMeetingQueryHandler)


async def main() -> None:
    container = cqrs.BuiltinContainer()
    container.register(MeetingAPIProtocol, InMemoryMeetingAPI, lifetime="singleton")
    mediator = bootstrap.bootstrap(
        di_container=container, commands_mapper=init_commands, queries_mapper=init_queries
    )

    for user in ("ada", "grace"):
        result = await mediator.send(JoinMeetingCommand(user_id=user, meeting_id=1))
        print(f"join meeting 1 as {user} -> {result}")

    meeting = await mediator.send(ReadMeetingQuery(meeting_id=1))
    print(f"read meeting 1 -> link={meeting.link} participants={meeting.participants}")

    try:
        await mediator.send(LeaveMeetingCommand(user_id="ada", meeting_id=1))
    except cqrs.HandlerNotBoundError:
        print("not bound: LeaveMeetingCommand")


if __name__ == "__main__":
    asyncio.run(main())
