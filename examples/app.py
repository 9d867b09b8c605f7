"""A meeting-room service on embedded defaults: in-memory broker, built-in container.

Run it with `uv run python examples/app.py`. It creates a meeting, picks a room through a chain
of responsibility, lets people join (a domain event updates the read model), streams
invitations, then closes the meeting: the notification event goes to the in-memory broker and
is consumed back through an event mediator, as a separate service would. Finally a saga
archives the meeting in two steps, each persisted (in memory) before the next runs.
"""

# expect: saga: 3 attendees notified
# expect: done: 1 message published, 1 summary sent

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import cqrs
from cqrs.events import bootstrap as event_bootstrap
from cqrs.requests import bootstrap as request_bootstrap
from cqrs.saga import Saga, SagaContext, SagaMediator, SagaStepHandler, SagaStepResult
from cqrs.saga import bootstrap as saga_bootstrap
from cqrs.saga.storage.memory import MemorySagaStorage

MEETINGS_TOPIC = "meetings"

# --- Models -------------------------------------------------------------------------------


class CreateMeeting(cqrs.Request):
    meeting_id: str
    title: str
    expected: int


class AssignRoom(cqrs.Request):
    meeting_id: str
    expected: int


class JoinMeeting(cqrs.Request):
    meeting_id: str
    user_id: str


class CloseMeeting(cqrs.Request):
    meeting_id: str


class GetMeeting(cqrs.Request):
    meeting_id: str


class SendInvitations(cqrs.Request):
    meeting_id: str
    emails: list[str]


class RoomAssigned(cqrs.Response):
    room: str


class MeetingView(cqrs.Response):
    meeting_id: str
    title: str
    room: str
    attendees: list[str]
    closed: bool


class InvitationSent(cqrs.Response):
    email: str
    sent: int
    total: int


class MeetingCreated(cqrs.DomainEvent):
    meeting_id: str
    title: str


class UserJoined(cqrs.DomainEvent):
    meeting_id: str
    user_id: str


class MeetingClosedPayload(cqrs.Response):
    meeting_id: str
    title: str
    attendees: list[str]


MeetingClosed = cqrs.NotificationEvent[MeetingClosedPayload]
"""The notification event published when a meeting closes (a real class, bindable in maps)."""

# --- Infrastructure (singletons in the container) ------------------------------------------


@dataclass
class Meeting:
    meeting_id: str
    title: str
    room: str = "unassigned"
    attendees: list[str] = field(default_factory=list)
    closed: bool = False


class MeetingRepository:
    """The write model."""

    def __init__(self) -> None:
        self.meetings: dict[str, Meeting] = {}

    def get(self, meeting_id: str) -> Meeting:
        return self.meetings[meeting_id]


class MeetingReadModel:
    """The read model, built only from domain events."""

    def __init__(self) -> None:
        self.views: dict[str, MeetingView] = {}


class Outbox:
    """What the summary service (the consumer of the broker) has received."""

    def __init__(self) -> None:
        self.summaries: list[str] = []


# --- Command and query handlers ------------------------------------------------------------


class CreateMeetingHandler(cqrs.RequestHandler[CreateMeeting, None]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def handle(self, request: CreateMeeting) -> None:
        self.repository.meetings[request.meeting_id] = Meeting(request.meeting_id, request.title)
        self._events = [MeetingCreated(meeting_id=request.meeting_id, title=request.title)]


class SmallRoomHandler(cqrs.CORRequestHandler[AssignRoom, RoomAssigned]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def handle(self, request: AssignRoom) -> RoomAssigned | None:
        if request.expected > 4:
            return await self.next(request)
        self.repository.get(request.meeting_id).room = "Huddle room"
        return RoomAssigned(room="Huddle room")


class LargeRoomHandler(cqrs.CORRequestHandler[AssignRoom, RoomAssigned]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def handle(self, request: AssignRoom) -> RoomAssigned | None:
        if request.expected > 20:
            return await self.next(request)
        self.repository.get(request.meeting_id).room = "Board room"
        return RoomAssigned(room="Board room")


class AuditoriumHandler(cqrs.CORRequestHandler[AssignRoom, RoomAssigned]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def handle(self, request: AssignRoom) -> RoomAssigned | None:
        self.repository.get(request.meeting_id).room = "Auditorium"
        return RoomAssigned(room="Auditorium")


class JoinMeetingHandler(cqrs.RequestHandler[JoinMeeting, None]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def handle(self, request: JoinMeeting) -> None:
        meeting = self.repository.get(request.meeting_id)
        if meeting.closed:
            raise ValueError(f"meeting {request.meeting_id} is closed")
        meeting.attendees.append(request.user_id)
        self._events = [UserJoined(meeting_id=request.meeting_id, user_id=request.user_id)]


class CloseMeetingHandler(cqrs.RequestHandler[CloseMeeting, None]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def handle(self, request: CloseMeeting) -> None:
        meeting = self.repository.get(request.meeting_id)
        meeting.closed = True
        payload = MeetingClosedPayload(
            meeting_id=meeting.meeting_id, title=meeting.title, attendees=list(meeting.attendees)
        )
        self._events = [
            MeetingClosed(
                event_name="MeetingClosed",
                topic=MEETINGS_TOPIC,
                payload=payload,
                partition_key=meeting.meeting_id,
            )
        ]


class GetMeetingHandler(cqrs.RequestHandler[GetMeeting, MeetingView]):
    def __init__(self, read_model: MeetingReadModel, repository: MeetingRepository) -> None:
        self.read_model = read_model
        self.repository = repository

    async def handle(self, request: GetMeeting) -> MeetingView:
        view = self.read_model.views[request.meeting_id]
        meeting = self.repository.get(request.meeting_id)
        return MeetingView(
            meeting_id=view.meeting_id,
            title=view.title,
            room=meeting.room,
            attendees=list(view.attendees),
            closed=meeting.closed,
        )


class SendInvitationsHandler(cqrs.StreamingRequestHandler[SendInvitations, InvitationSent]):
    async def handle(self, request: SendInvitations) -> AsyncIterator[InvitationSent]:
        for number, email in enumerate(request.emails, start=1):
            await asyncio.sleep(0)  # stands in for talking to a mail server
            yield InvitationSent(email=email, sent=number, total=len(request.emails))


# --- Event handlers ------------------------------------------------------------------------


class ProjectMeetingCreated(cqrs.EventHandler[MeetingCreated]):
    def __init__(self, read_model: MeetingReadModel) -> None:
        self.read_model = read_model

    async def handle(self, event: MeetingCreated) -> None:
        self.read_model.views[event.meeting_id] = MeetingView(
            meeting_id=event.meeting_id, title=event.title, room="", attendees=[], closed=False
        )


class ProjectUserJoined(cqrs.EventHandler[UserJoined]):
    def __init__(self, read_model: MeetingReadModel) -> None:
        self.read_model = read_model

    async def handle(self, event: UserJoined) -> None:
        self.read_model.views[event.meeting_id].attendees.append(event.user_id)
        print(f"  read model: {event.user_id} added to {event.meeting_id}")


class SendMeetingSummary(cqrs.EventHandler[cqrs.NotificationEvent[MeetingClosedPayload]]):
    """Runs in the consuming service, for events received from the broker."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def handle(self, event: cqrs.NotificationEvent[MeetingClosedPayload]) -> None:
        summary = f"summary of {event.payload.title!r} sent to {', '.join(event.payload.attendees)}"
        self.outbox.summaries.append(summary)
        print(f"  consumer: {summary}")


# --- Wiring --------------------------------------------------------------------------------


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(CreateMeeting, CreateMeetingHandler)
    mapper.bind(AssignRoom, [SmallRoomHandler, LargeRoomHandler, AuditoriumHandler])
    mapper.bind(JoinMeeting, JoinMeetingHandler)
    mapper.bind(CloseMeeting, CloseMeetingHandler)


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(GetMeeting, GetMeetingHandler)


def streaming_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(SendInvitations, SendInvitationsHandler)


def domain_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(MeetingCreated, ProjectMeetingCreated)
    mapper.bind(UserJoined, ProjectUserJoined)


def consumed_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(MeetingClosed, SendMeetingSummary)


# --- A saga: archiving a closed meeting in two compensable steps -----------------------------


class ArchiveContext(SagaContext):
    meeting_id: str
    recording_url: str | None = None
    notified: list[str] = field(default_factory=list)


class StoreRecording(SagaStepHandler[ArchiveContext, None]):
    async def act(self, context: ArchiveContext) -> SagaStepResult[ArchiveContext, None]:
        context.recording_url = f"https://archive.example.com/{context.meeting_id}.mp4"
        print(f"  saga: recording stored at {context.recording_url}")
        return self._generate_step_result(None)

    async def compensate(self, context: ArchiveContext) -> None:
        print("  saga: recording deleted")


class NotifyAttendees(SagaStepHandler[ArchiveContext, None]):
    def __init__(self, repository: MeetingRepository) -> None:
        self.repository = repository

    async def act(self, context: ArchiveContext) -> SagaStepResult[ArchiveContext, None]:
        context.notified = list(self.repository.get(context.meeting_id).attendees)
        print(f"  saga: {len(context.notified)} attendees notified")
        return self._generate_step_result(None)


class ArchiveMeeting(Saga[ArchiveContext]):
    steps = (StoreRecording, NotifyAttendees)


@dataclass
class App:
    """The mediators of the service and of its consumer, sharing one in-memory broker."""

    container: cqrs.BuiltinContainer
    broker: cqrs.MemoryMessageBroker
    mediator: cqrs.RequestMediator
    streaming: cqrs.StreamingRequestMediator
    events: cqrs.EventMediator
    sagas: SagaMediator


def build_app() -> App:
    container = cqrs.BuiltinContainer()
    for singleton in (MeetingRepository, MeetingReadModel, Outbox):
        container.register(singleton, lifetime="singleton")
    broker = cqrs.MemoryMessageBroker()
    return App(
        container=container,
        broker=broker,
        mediator=request_bootstrap.bootstrap(
            di_container=container,
            commands_mapper=commands_mapper,
            queries_mapper=queries_mapper,
            domain_events_mapper=domain_events_mapper,
            message_broker=broker,
        ),
        streaming=request_bootstrap.bootstrap_streaming(
            di_container=container, commands_mapper=streaming_mapper
        ),
        events=event_bootstrap.bootstrap(
            di_container=container, events_mapper=consumed_events_mapper
        ),
        sagas=saga_bootstrap.bootstrap(
            di_container=container,
            sagas_mapper=lambda m: m.bind(ArchiveContext, ArchiveMeeting),
            saga_storage=MemorySagaStorage(),
        ),
    )


async def consume(app: App, topic: str, count: int) -> None:
    """The consuming service: rebuild each event from the broker and hand it to the mediator."""
    async for message in app.broker.subscribe(topic):
        print(f"  broker: {message.message_name} on {message.topic!r} (key {message.key})")
        event = MeetingClosed.from_dict(json.loads(message.payload))
        await app.events.send(event)
        count -= 1
        if count == 0:
            return


async def main() -> None:
    app = build_app()
    consumer = asyncio.create_task(consume(app, MEETINGS_TOPIC, count=1))
    await asyncio.sleep(0)  # let the consumer subscribe before anything is published

    print("create meeting m-1")
    await app.mediator.send(CreateMeeting(meeting_id="m-1", title="Quarterly planning", expected=8))

    room = await app.mediator.send(AssignRoom(meeting_id="m-1", expected=8))
    print(f"assign room: {room.room}")

    for user in ("ada", "grace", "linus"):
        print(f"join {user}")
        await app.mediator.send(JoinMeeting(meeting_id="m-1", user_id=user))

    print("send invitations")
    invitations = SendInvitations(meeting_id="m-1", emails=["ops@example.com", "hr@example.com"])
    async for sent in app.streaming.stream(invitations):
        print(f"  invitation {sent.sent}/{sent.total}: {sent.email}")

    view = await app.mediator.send(GetMeeting(meeting_id="m-1"))
    print(f"query: {view.title} in {view.room}, attendees {view.attendees}")

    print("close meeting m-1")
    await app.mediator.send(CloseMeeting(meeting_id="m-1"))
    await asyncio.wait_for(consumer, timeout=5)

    print("archive meeting m-1")
    async for _ in app.sagas.stream(ArchiveContext(meeting_id="m-1")):
        pass

    summaries = app.container.get(Outbox).summaries
    print(
        f"done: {len(app.broker.messages[MEETINGS_TOPIC])} message published, "
        f"{len(summaries)} summary sent"
    )
    await app.broker.close()


if __name__ == "__main__":
    asyncio.run(main())
