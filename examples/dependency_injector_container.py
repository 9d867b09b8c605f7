"""Handlers wired by dependency-injector: a `DeclarativeContainer` behind the CQRS adapter.

Run it with `uv run python examples/dependency_injector_container.py` (needs
`cqrs-dependency-injector`). `ApplicationContainer` declares a singleton storage, a configured
factory for the meetings API and its configuration; `DependencyInjectorCQRSContainer` lets the
mediator build handlers from it (a parameter typed with a protocol is matched to the provider of
the same name). Overriding a provider, as tests do, changes what the handlers receive.
"""

# expect: ada joined meeting 1
# expect: meeting 1: https://meet.example.com/1 with ['ada', 'grace']
# expect: overridden: meeting 1: https://staging.example.com/1 with ['ada', 'grace']

from __future__ import annotations

import asyncio
from typing import Protocol

from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.requests import bootstrap


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class ReadMeetingQuery(cqrs.Request):
    meeting_id: int


class ReadMeetingQueryResult(cqrs.Response):
    link: str
    participants: list[str]


class MeetingStorage:
    """Shared by every request (a singleton provider)."""

    def __init__(self) -> None:
        self.participants: dict[int, list[str]] = {}


class MeetingAPIProtocol(Protocol):
    async def join_user(self, user_id: str, meeting_id: int) -> None: ...

    async def read(self, meeting_id: int) -> ReadMeetingQueryResult: ...


class MeetingAPIImplementation:
    def __init__(self, storage: MeetingStorage, base_url: str) -> None:
        self.storage = storage
        self.base_url = base_url

    async def join_user(self, user_id: str, meeting_id: int) -> None:
        self.storage.participants.setdefault(meeting_id, []).append(user_id)

    async def read(self, meeting_id: int) -> ReadMeetingQueryResult:
        return ReadMeetingQueryResult(
            link=f"{self.base_url}/{meeting_id}",
            participants=list(self.storage.participants.get(meeting_id, [])),
        )


class ApplicationContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    storage = providers.Singleton(MeetingStorage)
    meetings_api = providers.Factory(
        MeetingAPIImplementation, storage=storage, base_url=config.meetings_url
    )


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    async def handle(self, request: JoinMeetingCommand) -> None:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)
        print(f"{request.user_id} joined meeting {request.meeting_id}")


class ReadMeetingQueryHandler(cqrs.RequestHandler[ReadMeetingQuery, ReadMeetingQueryResult]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    async def handle(self, request: ReadMeetingQuery) -> ReadMeetingQueryResult:
        return await self._meetings_api.read(request.meeting_id)


async def main() -> None:
    application = ApplicationContainer()
    application.config.meetings_url.from_value("https://meet.example.com")
    mediator = bootstrap.bootstrap(
        di_container=DependencyInjectorCQRSContainer(application),
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
        queries_mapper=lambda m: m.bind(ReadMeetingQuery, ReadMeetingQueryHandler),
    )
    for user in ("ada", "grace"):
        await mediator.send(JoinMeetingCommand(user_id=user, meeting_id=1))
    meeting = await mediator.send(ReadMeetingQuery(meeting_id=1))
    print(f"meeting 1: {meeting.link} with {meeting.participants}")

    staging = providers.Factory(
        MeetingAPIImplementation,
        storage=application.storage,
        base_url="https://staging.example.com",
    )
    with application.meetings_api.override(staging):
        meeting = await mediator.send(ReadMeetingQuery(meeting_id=1))
    print(f"overridden: meeting 1: {meeting.link} with {meeting.participants}")


if __name__ == "__main__":
    asyncio.run(main())
