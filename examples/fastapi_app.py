"""The seeds' meetings API served by FastAPI on embedded defaults.

Run it with `uv run python examples/fastapi_app.py`. A `/meetings` router sends commands and
queries through a mediator dependency that opens the container's request scope (one unit of work
per HTTP request); joining a meeting writes a notification event to the in-memory outbox, which
the relay running in the application's lifespan publishes to the in-memory broker; an unknown
meeting is answered with a 404 problem response. The program serves the app with uvicorn on a
free loopback port, calls it with httpx, prints what it got, and shuts the server down.
"""

# expect: PUT /meetings/1/ada -> 200 {'result': 'ok'}
# expect: GET /meetings/1 -> 200 {'meeting_id': 1, 'link': 'https://meet.example/1'
# expect: GET /meetings/99 -> 404 application/problem+json: no meeting 99
# expect: one unit of work per request: True
# expect: published by the relay: ['UserJoined 1 ada', 'UserJoined 1 bob']

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any, Protocol

import fastapi
import httpx
import uvicorn

import cqrs
from cqrs.requests import bootstrap
from cqrs_fastapi import add_exception_handlers, cqrs_lifespan, mediator_dependency

MEETINGS_TOPIC = "meetings"

# --- Application layer: requests, handlers, services ----------------------------------------


class JoinMeetingCommand(cqrs.Request):
    meeting_id: int
    user_id: str


class ReadMeetingQuery(cqrs.Request):
    meeting_id: int


class ReadMeetingQueryResult(cqrs.Response):
    meeting_id: int
    link: str
    attendees: list[str]


class UserJoined(cqrs.Response):
    meeting_id: int
    user_id: str


class MeetingNotFound(cqrs.PublicError, LookupError):
    """Answered with 404 by the problem handlers; public, so clients see its message."""


class MeetingAPIProtocol(Protocol):
    async def join_user(self, user_id: str, meeting_id: int) -> None: ...

    async def get_link(self, meeting_id: int) -> str: ...

    async def attendees(self, meeting_id: int) -> list[str]: ...


class InMemoryMeetingAPI:
    def __init__(self) -> None:
        self._attendees: dict[int, list[str]] = {1: []}

    async def join_user(self, user_id: str, meeting_id: int) -> None:
        if meeting_id not in self._attendees:
            raise MeetingNotFound(f"no meeting {meeting_id}")
        self._attendees[meeting_id].append(user_id)

    async def get_link(self, meeting_id: int) -> str:
        if meeting_id not in self._attendees:
            raise MeetingNotFound(f"no meeting {meeting_id}")
        return f"https://meet.example/{meeting_id}"

    async def attendees(self, meeting_id: int) -> list[str]:
        return list(self._attendees.get(meeting_id, []))


class UnitOfWork:
    """Lives for one HTTP request: every handler the request reaches shares it."""

    def __init__(self, outbox: cqrs.OutboxedEventRepository[Any]) -> None:
        self.id = uuid.uuid4().hex
        self.outbox = outbox


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, str]):
    def __init__(self, meetings_api: MeetingAPIProtocol, uow: UnitOfWork) -> None:
        self._meetings_api = meetings_api
        self._uow = uow

    async def handle(self, request: JoinMeetingCommand) -> str:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)
        outbox = self._uow.outbox
        async with outbox as session:
            outbox.add(
                session,
                cqrs.NotificationEvent[UserJoined](
                    event_name="UserJoined",
                    topic=MEETINGS_TOPIC,
                    payload=UserJoined(meeting_id=request.meeting_id, user_id=request.user_id),
                    partition_key=str(request.meeting_id),
                ),
            )
            await outbox.commit(session)
        return self._uow.id


class ReadMeetingQueryHandler(cqrs.RequestHandler[ReadMeetingQuery, ReadMeetingQueryResult]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    async def handle(self, request: ReadMeetingQuery) -> ReadMeetingQueryResult:
        return ReadMeetingQueryResult(
            meeting_id=request.meeting_id,
            link=await self._meetings_api.get_link(request.meeting_id),
            attendees=await self._meetings_api.attendees(request.meeting_id),
        )


# --- Wiring: container, mediator, outbox relay ----------------------------------------------

broker = cqrs.MemoryMessageBroker()
outbox = cqrs.MemoryOutboxedEventRepository()
relay = cqrs.OutboxRelay(outbox, broker, poll_interval=0.01)

container = cqrs.BuiltinContainer()
container.register_instance(cqrs.OutboxedEventRepository[Any], outbox)
container.register(MeetingAPIProtocol, InMemoryMeetingAPI, lifetime="singleton")
container.register(UnitOfWork, lifetime="request")


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler)


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ReadMeetingQuery, ReadMeetingQueryHandler)


mediator = bootstrap.bootstrap(
    di_container=container, commands_mapper=commands_mapper, queries_mapper=queries_mapper
)
mediator_factory = mediator_dependency(lambda: mediator, container=container)

# --- Presentation layer: the router -----------------------------------------------------------

router = fastapi.APIRouter(prefix="/meetings")


@router.put("/{meeting_id}/{user_id}", status_code=fastapi.status.HTTP_200_OK)
async def join_meeting(
    meeting_id: int,
    user_id: str,
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),
) -> dict[str, str]:
    await mediator.send(JoinMeetingCommand(meeting_id=meeting_id, user_id=user_id))
    return {"result": "ok"}


@router.get("/{meeting_id}")
async def read_meeting(
    meeting_id: int, mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory)
) -> dict[str, object]:
    result = await mediator.send(ReadMeetingQuery(meeting_id=meeting_id))
    view: dict[str, object] = result.to_dict()
    return view


@router.post("/{meeting_id}/check-in/{user_id}")
async def check_in(
    meeting_id: int,
    user_id: str,
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),
) -> dict[str, bool]:
    """Join, then read in the same request: both handlers see the same unit of work."""
    joined_in = await mediator.send(JoinMeetingCommand(meeting_id=meeting_id, user_id=user_id))
    return {"same_unit_of_work": joined_in == container.get(UnitOfWork).id}


app = fastapi.FastAPI(lifespan=cqrs_lifespan(brokers=[broker], relays=[relay]))
app.include_router(router)
add_exception_handlers(app, {MeetingNotFound: 404})

# --- Serving and calling it -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def main() -> None:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for user in ("ada", "bob"):
                response = await client.put(f"/meetings/1/{user}")
                print(f"PUT /meetings/1/{user} -> {response.status_code} {response.json()}")
            response = await client.get("/meetings/1")
            print(f"GET /meetings/1 -> {response.status_code} {response.json()}")
            response = await client.get("/meetings/99")
            problem = response.json()
            print(
                f"GET /meetings/99 -> {response.status_code} "
                f"{response.headers['content-type']}: {problem['detail']}"
            )
            check_in = (await client.post("/meetings/1/check-in/cy")).json()
            print("one unit of work per request:", check_in["same_unit_of_work"])
        async with asyncio.timeout(5):
            while len(broker.messages.get(MEETINGS_TOPIC, ())) < 3:
                await asyncio.sleep(0.01)
    finally:
        server.should_exit = True
        await serving
    published = [json.loads(m.payload)["payload"] for m in broker.messages[MEETINGS_TOPIC]]
    print(
        "published by the relay:",
        [f"UserJoined {p['meeting_id']} {p['user_id']}" for p in published[:2]],
    )
    print("relay stopped with the app:", relay.stopping, relay.counters.published, "published")


if __name__ == "__main__":
    asyncio.run(main())
