"""The core-only code snippets of the seed documents run unchanged against our core.

Each snippet from /work/shared/seeds is kept verbatim as a string. The README seed (000) lost its
indentation when it was extracted from HTML, so its snippets carry the indentation restored and
the prose glued to their last line removed; otherwise they are token for token the seed's text.
Each test executes its snippet in a fresh module whose prelude defines only the names the snippet
leaves to the application (request models, services, `typing`, `events`, `container`, the `app`
package...), then exercises the result: sends the commands and checks their effects.

Seed snippets not run here belong to adapters that are not part of the core (Kafka, outbox with
SQLAlchemy, sagas, di / dependency-injector, FastAPI, FastStream, protobuf); their own packages
test them.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import io
import sys
import types
import typing
import warnings
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import pytest

import cqrs
from cqrs import events as cqrs_events

# --- Seed snippets (verbatim) --------------------------------------------------------------

SEED_COMMAND_HANDLER = """
from cqrs.requests.request_handler import RequestHandler
from cqrs.events.event import Event

class JoinMeetingCommandHandler(RequestHandler[JoinMeetingCommand, None]):

    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api
        self.events: list[Event] = []

    @property
    def events(self) -> typing.List[events.Event]:
        return self._events

    async def handle(self, request: JoinMeetingCommand) -> None:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)
"""

SEED_QUERY_HANDLER = """
from cqrs.requests.request_handler import RequestHandler
from cqrs.events.event import Event

class ReadMeetingQueryHandler(RequestHandler[ReadMeetingQuery, ReadMeetingQueryResult]):

    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api
        self.events: list[Event] = []

    @property
    def events(self) -> typing.List[events.Event]:
        return self._events

    async def handle(self, request: ReadMeetingQuery) -> ReadMeetingQueryResult:
        link = await self._meetings_api.get_link(request.meeting_id)
        return ReadMeetingQueryResult(link=link, meeting_id=request.meeting_id)
"""

SEED_STREAMING_HANDLER = """
import typing
from cqrs.requests.request_handler import StreamingRequestHandler
from cqrs.events.event import Event

class ProcessFilesCommandHandler(StreamingRequestHandler[ProcessFilesCommand, FileProcessedResult]):
    def __init__(self):
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: ProcessFilesCommand) -> typing.AsyncIterator[FileProcessedResult]:
        for file_id in request.file_ids:
            # Process file
            result = FileProcessedResult(file_id=file_id, status="completed", ...)
            # Emit events
            self._events.append(FileProcessedEvent(file_id=file_id, ...))
            yield result
"""  # noqa: E501

SEED_COR_HANDLERS = """
import typing
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.events.event import Event

class CreditCardPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    def __init__(self, payment_service: PaymentServiceProtocol) -> None:
        self._payment_service = payment_service
        self._events: typing.List[Event] = []

    @property
    def events(self) -> typing.List[Event]:
        return self._events

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.payment_method == "credit_card":
            # Process credit card payment
            result = await self._payment_service.process_credit_card(request)
            self._events.append(PaymentProcessedEvent(...))
            return PaymentResult(success=True, transaction_id=result.id)

        # Pass to next handler
        return await self.next(request)

class PayPalPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    def __init__(self, paypal_service: PayPalServiceProtocol) -> None:
        self._paypal_service = paypal_service
        self._events: typing.List[Event] = []

    @property
    def events(self) -> typing.List[Event]:
        return self._events

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.payment_method == "paypal":
            # Process PayPal payment
            result = await self._paypal_service.process_payment(request)
            return PaymentResult(success=True, transaction_id=result.id)

        # Pass to next handler
        return await self.next(request)

# Chain registration
def payment_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ProcessPaymentCommand, [
        CreditCardPaymentHandler,
        PayPalPaymentHandler,
        DefaultPaymentHandler  # Fallback handler
    ])
"""

SEED_COR_MERMAID = """
from cqrs.requests.mermaid import CoRMermaid

# Create Mermaid generator from handler chain
handlers = [CreditCardHandler, PayPalHandler, DefaultHandler]
generator = CoRMermaid(handlers)

# Generate Sequence diagram showing execution flow
sequence_diagram = generator.sequence()

# Generate Class diagram showing type structure
class_diagram = generator.class_diagram()
"""

SEED_EVENT_HANDLER = """
class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):

    def __init__(self):
        self._events = []

    @property
    def events(self):
        return self._events

    async def handle(self, request: JoinMeetingCommand) -> None:
        STORAGE[request.meeting_id].append(request.user_id)
        self._events.append(
            UserJoined(user_id=request.user_id, meeting_id=request.meeting_id),
        )
        print(f"User {request.user_id} joined meeting {request.meeting_id}")


class UserJoinedEventHandler(cqrs.EventHandler[UserJoined]):

    async def handle(self, event: UserJoined) -> None:
        print(f"Handle user {event.user_id} joined meeting {event.meeting_id} event")
"""

SEED_CONCURRENCY = """
from cqrs.requests import bootstrap

mediator = bootstrap.bootstrap_streaming(
    di_container=container,
    commands_mapper=commands_mapper,
    domain_events_mapper=domain_events_mapper,
    message_broker=broker,
    max_concurrent_event_handlers=3,  # Process up to 3 events in parallel
    concurrent_event_handle_enable=True,  # Enable parallel processing
)
"""

SEED_NOTIFICATION_EVENTS = """
class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):

    def __init__(self):
        self._events = []

    @property
    def events(self):
        return self._events

    async def handle(self, request: JoinMeetingCommand) -> None:
        print(f"User {request.user_id} joined meeting {request.meeting_id}")
        self._events.append(
            cqrs.NotificationEvent[UserJoinedNotificationPayload](
                event_name="UserJoined",
                topic="user_notification_events",
                payload=UserJoinedNotificationPayload(
                    user_id=request.user_id,
                    meeting_id=request.meeting_id,
                ),
            )
        )
        self._events.append(
            cqrs.NotificationEvent[UserJoinedECSTPayload](
                event_name="UserJoined",
                topic="user_ecst_events",
                payload=UserJoinedECSTPayload(
                    user_id=request.user_id,
                    meeting_id=request.meeting_id,
                ),
            )
        )
"""

SEED_MAPPING = """
from cqrs import requests, events

from app import commands, command_handlers
from app import queries, query_handlers
from app import events as event_models, event_handlers


def init_commands(mapper: requests.RequestMap) -> None:
    mapper.bind(commands.JoinMeetingCommand, command_handlers.JoinMeetingCommandHandler)

def init_queries(mapper: requests.RequestMap) -> None:
    mapper.bind(queries.ReadMeetingQuery, query_handlers.ReadMeetingQueryHandler)

def init_events(mapper: events.EventMap) -> None:
    mapper.bind(events.NotificationEvent[events_models.NotificationMeetingRoomClosed], event_handlers.MeetingRoomClosedNotificationHandler)
    mapper.bind(events.NotificationEvent[event_models.ECSTMeetingRoomClosed], event_handlers.UpdateMeetingRoomReadModelHandler)
"""  # noqa: E501

SEED_BOOTSTRAP = """
import functools

from cqrs.events import bootstrap as event_bootstrap
from cqrs.requests import bootstrap as request_bootstrap

from app import dependencies, mapping, orm


@functools.lru_cache
def mediator_factory():
    return request_bootstrap.bootstrap(
        di_container=dependencies.setup_di(),
        commands_mapper=mapping.init_commands,
        queries_mapper=mapping.init_queries,
        domain_events_mapper=mapping.init_events,
        on_startup=[orm.init_store_event_mapper],
    )


@functools.lru_cache
def event_mediator_factory():
    return event_bootstrap.bootstrap(
        di_container=dependencies.setup_di(),
        events_mapper=mapping.init_events,
        on_startup=[orm.init_store_event_mapper],
    )
"""

SEED_FASTSTREAM_HANDLER_EXCERPT = """
class HelloWorldPayload(pydantic.BaseModel):
    hello: str = pydantic.Field(default="Hello")
    world: str = pydantic.Field(default="World")


class HelloWorldECSTEventHandler(cqrs.EventHandler[cqrs.NotificationEvent[HelloWorldPayload]]):
    async def handle(self, event: cqrs.NotificationEvent[HelloWorldPayload]) -> None:
        print(f"{event.payload.hello} {event.payload.world}")  # type: ignore
"""

SEED_DOCS_QUICKSTART = """
import cqrs
from cqrs.events import Event
from datetime import datetime

class CreateUserCommand(cqrs.Request): # (1)
    email: str
    name: str

class GetUserQuery(cqrs.Request):
    user_id: str

class CreateUserResponse(cqrs.Response): # (2)
    user_id: str
    email: str
    name: str

class GetUserResponse(cqrs.Response):
    user_id: str
    email: str
    name: str
    created_at: str

class UserCreatedEvent(Event): # (3)
    user_id: str
    email: str
    name: str
    created_at: datetime

class CreateUserHandler(cqrs.RequestHandler[CreateUserCommand, CreateUserResponse]): # (4)
    def __init__(self):
        self._events: list[Event] = [] # (5)
    
    @property
    def events(self) -> list[Event]:
        return self._events # (6)
    
    async def handle(self, request: CreateUserCommand) -> CreateUserResponse:
        user_id = f"user_{request.email}" # (7)
        
        self._events.append(UserCreatedEvent( # (9)
            user_id=user_id,
            email=request.email,
            name=request.name,
            created_at=datetime.utcnow()
        ))
        
        return CreateUserResponse(
            user_id=user_id,
            email=request.email,
            name=request.name
        )

class GetUserHandler(cqrs.RequestHandler[GetUserQuery, GetUserResponse]):
    @property
    def events(self) -> list[Event]:
        return [] # (8)
    
    async def handle(self, request: GetUserQuery) -> GetUserResponse:
        return GetUserResponse( # (10)
            user_id=request.user_id,
            email="user@example.com",
            name="John Doe",
            created_at="2024-01-01T00:00:00Z"
        )

class UserCreatedEventHandler(cqrs.EventHandler[UserCreatedEvent]): # (11)
    async def handle(self, event: UserCreatedEvent) -> None:
        print(f"User created: {event.name} ({event.email}) with ID: {event.user_id}") # (12)

mediator = cqrs.bootstrap.bootstrap( # (13)
    commands_mapper=lambda m: m.bind(CreateUserCommand, CreateUserHandler),
    queries_mapper=lambda m: m.bind(GetUserQuery, GetUserHandler),
    domain_events_mapper=lambda m: m.bind(UserCreatedEvent, UserCreatedEventHandler)
)

result = await mediator.send(CreateUserCommand( # (14)
    email="user@example.com",
    name="John Doe"
))

user_data = await mediator.send(GetUserQuery( # (15)
    user_id="user_user@example.com"
))
"""  # noqa: W293

# --- Running snippets ----------------------------------------------------------------------


class Modules:
    """Creates modules for snippets and removes them from `sys.modules` afterwards."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def new(self, name: str, **prelude: Any) -> types.ModuleType:
        """An empty module registered as `name` (and as an attribute of its parent package)."""
        module = types.ModuleType(name)
        module.__dict__.update(prelude)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
        else:
            module.__path__ = []  # importable as a package, for `from app import x`
        sys.modules[name] = module
        self.created.append(name)
        return module

    async def run(self, name: str, source: str, **prelude: Any) -> types.ModuleType:
        """Execute `source` as module `name` whose globals start as `prelude`; await if needed."""
        module = self.new(name, **prelude)
        code = compile(source, f"<seed {name}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, module.__dict__)
        if asyncio.iscoroutine(result):
            await result
        return module

    def close(self) -> None:
        for name in reversed(self.created):
            sys.modules.pop(name, None)


@pytest.fixture
def modules() -> Iterator[Modules]:
    made = Modules()
    yield made
    made.close()


@contextlib.contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        yield out


# --- The application's side: what the seeds leave undefined --------------------------------


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class ReadMeetingQuery(cqrs.Request):
    meeting_id: int


class ReadMeetingQueryResult(cqrs.Response):
    link: str
    meeting_id: int


class MeetingAPIProtocol(Protocol):
    async def join_user(self, user_id: str, meeting_id: int) -> None: ...

    async def get_link(self, meeting_id: int) -> str: ...


class FakeMeetingAPI:
    def __init__(self) -> None:
        self.joined: list[tuple[str, int]] = []

    async def join_user(self, user_id: str, meeting_id: int) -> None:
        self.joined.append((user_id, meeting_id))

    async def get_link(self, meeting_id: int) -> str:
        return f"https://meet.example.com/{meeting_id}"


def meetings_container(api: FakeMeetingAPI) -> cqrs.BuiltinContainer:
    container = cqrs.BuiltinContainer()
    container.register_instance(MeetingAPIProtocol, api)
    return container


MEETING_PRELUDE = {
    "typing": typing,
    "events": cqrs_events,
    "JoinMeetingCommand": JoinMeetingCommand,
    "ReadMeetingQuery": ReadMeetingQuery,
    "ReadMeetingQueryResult": ReadMeetingQueryResult,
    "MeetingAPIProtocol": MeetingAPIProtocol,
}


# --- Request handlers ----------------------------------------------------------------------


async def test_command_handler_with_events_assigned_next_to_a_read_only_property(
    modules: Modules,
) -> None:
    seed = await modules.run("seed_command", SEED_COMMAND_HANDLER, **MEETING_PRELUDE)
    handler_type = seed.JoinMeetingCommandHandler
    api = FakeMeetingAPI()

    handler = handler_type(api)
    assert handler.events == []
    assert handler.events is handler._events

    mediator = cqrs.bootstrap.bootstrap(
        di_container=meetings_container(api),
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, handler_type),
    )
    assert await mediator.send(JoinMeetingCommand(user_id="ada", meeting_id=7)) is None
    assert api.joined == [("ada", 7)]


async def test_query_handler_returns_the_read_model(modules: Modules) -> None:
    seed = await modules.run("seed_query", SEED_QUERY_HANDLER, **MEETING_PRELUDE)
    mediator = cqrs.bootstrap.bootstrap(
        di_container=meetings_container(FakeMeetingAPI()),
        queries_mapper=lambda m: m.bind(ReadMeetingQuery, seed.ReadMeetingQueryHandler),
    )
    result = await mediator.send(ReadMeetingQuery(meeting_id=3))
    assert result == ReadMeetingQueryResult(link="https://meet.example.com/3", meeting_id=3)


# --- Streaming handler ---------------------------------------------------------------------


class ProcessFilesCommand(cqrs.Request):
    file_ids: list[str]


class FileProcessedResult(cqrs.Response):
    file_id: str
    status: str


class FileProcessedEvent(cqrs.DomainEvent):
    file_id: str


def test_streaming_seed_as_written_is_not_python() -> None:
    """The seed elides fields with `...` after keyword arguments, which Python rejects.

    So the streaming test below runs the seed with exactly those two `, ...` placeholders
    removed, and nothing else changed.
    """
    with pytest.raises(SyntaxError, match="positional argument follows keyword argument"):
        compile(SEED_STREAMING_HANDLER, "<seed streaming>", "exec")
    assert SEED_STREAMING_HANDLER.count(", ...)") == 2


async def test_streaming_handler_yields_results_and_events_after_each(modules: Modules) -> None:
    seed = await modules.run(
        "seed_streaming",
        SEED_STREAMING_HANDLER.replace(", ...)", ")"),
        ProcessFilesCommand=ProcessFilesCommand,
        FileProcessedResult=FileProcessedResult,
        FileProcessedEvent=FileProcessedEvent,
    )
    handled: list[str] = []

    class RecordFile(cqrs.EventHandler[FileProcessedEvent]):
        async def handle(self, event: FileProcessedEvent) -> None:
            handled.append(event.file_id)

    mediator = cqrs.bootstrap.bootstrap_streaming(
        commands_mapper=lambda m: m.bind(ProcessFilesCommand, seed.ProcessFilesCommandHandler),
        domain_events_mapper=lambda m: m.bind(FileProcessedEvent, RecordFile),
    )
    seen: list[tuple[str, str, list[str]]] = []
    async for result in mediator.stream(ProcessFilesCommand(file_ids=["f1", "f2", "f3"])):
        seen.append((result.file_id, result.status, list(handled)))
    assert seen == [
        ("f1", "completed", ["f1"]),
        ("f2", "completed", ["f1", "f2"]),
        ("f3", "completed", ["f1", "f2", "f3"]),
    ]


# --- Chain of responsibility ---------------------------------------------------------------


class ProcessPaymentCommand(cqrs.Request):
    payment_method: str
    amount: int


class PaymentResult(cqrs.Response):
    success: bool
    transaction_id: str | None


@dataclasses.dataclass
class Transaction:
    id: str


class PaymentServiceProtocol(Protocol):
    async def process_credit_card(self, request: ProcessPaymentCommand) -> Transaction: ...


class PayPalServiceProtocol(Protocol):
    async def process_payment(self, request: ProcessPaymentCommand) -> Transaction: ...


class FakeCardService:
    async def process_credit_card(self, request: ProcessPaymentCommand) -> Transaction:
        return Transaction(id=f"card-{request.amount}")


class FakePayPalService:
    async def process_payment(self, request: ProcessPaymentCommand) -> Transaction:
        return Transaction(id=f"paypal-{request.amount}")


class PaymentProcessedEvent:
    """The seed emits `PaymentProcessedEvent(...)`: its fields are elided."""

    def __init__(self, *elided: object) -> None:
        assert elided == (Ellipsis,)


class DefaultPaymentHandler(cqrs.CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    """The seed's last link ("Fallback handler"), which it names but does not show."""

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        return PaymentResult(success=False, transaction_id=None)


COR_PRELUDE = {
    "cqrs": cqrs,
    "ProcessPaymentCommand": ProcessPaymentCommand,
    "PaymentResult": PaymentResult,
    "PaymentServiceProtocol": PaymentServiceProtocol,
    "PayPalServiceProtocol": PayPalServiceProtocol,
    "PaymentProcessedEvent": PaymentProcessedEvent,
    "DefaultPaymentHandler": DefaultPaymentHandler,
}


async def test_cor_chain_from_payment_mapper(modules: Modules) -> None:
    seed = await modules.run("seed_cor", SEED_COR_HANDLERS, **COR_PRELUDE)
    processed: list[PaymentProcessedEvent] = []

    class RecordPayment(cqrs.EventHandler[PaymentProcessedEvent]):
        async def handle(self, event: PaymentProcessedEvent) -> None:
            processed.append(event)

    container = cqrs.BuiltinContainer()
    container.register(PaymentServiceProtocol, FakeCardService)
    container.register(PayPalServiceProtocol, FakePayPalService)
    mediator = cqrs.bootstrap.bootstrap(
        di_container=container,
        commands_mapper=seed.payment_mapper,
        domain_events_mapper=lambda m: m.bind(PaymentProcessedEvent, RecordPayment),
    )

    card = await mediator.send(ProcessPaymentCommand(payment_method="credit_card", amount=10))
    paypal = await mediator.send(ProcessPaymentCommand(payment_method="paypal", amount=20))
    other = await mediator.send(ProcessPaymentCommand(payment_method="cash", amount=30))

    assert card == PaymentResult(success=True, transaction_id="card-10")
    assert paypal == PaymentResult(success=True, transaction_id="paypal-20")
    assert other == PaymentResult(success=False, transaction_id=None)
    assert len(processed) == 1


async def test_cor_mermaid_diagrams(modules: Modules) -> None:
    chain = await modules.run("seed_cor_chain", SEED_COR_HANDLERS, **COR_PRELUDE)
    seed = await modules.run(
        "seed_cor_mermaid",
        SEED_COR_MERMAID,
        CreditCardHandler=chain.CreditCardPaymentHandler,
        PayPalHandler=chain.PayPalPaymentHandler,
        DefaultHandler=DefaultPaymentHandler,
    )
    for diagram, kind in (
        (seed.sequence_diagram, "sequenceDiagram"),
        (seed.class_diagram, "classDiagram"),
    ):
        assert isinstance(diagram, str)
        assert diagram.lstrip().startswith(kind)
        positions = [
            diagram.index(name)
            for name in (
                "CreditCardPaymentHandler",
                "PayPalPaymentHandler",
                "DefaultPaymentHandler",
            )
        ]
        if kind == "sequenceDiagram":
            assert positions == sorted(positions), "the chain's order is the diagram's order"


# --- Events --------------------------------------------------------------------------------


class UserJoined(cqrs.DomainEvent):
    user_id: str
    meeting_id: int


async def test_event_handler_example(modules: Modules) -> None:
    storage: defaultdict[int, list[str]] = defaultdict(list)
    seed = await modules.run(
        "seed_events",
        SEED_EVENT_HANDLER,
        cqrs=cqrs,
        JoinMeetingCommand=JoinMeetingCommand,
        UserJoined=UserJoined,
        STORAGE=storage,
    )
    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, seed.JoinMeetingCommandHandler),
        domain_events_mapper=lambda m: m.bind(UserJoined, seed.UserJoinedEventHandler),
    )
    with captured_stdout() as out:
        await mediator.send(JoinMeetingCommand(user_id="ada", meeting_id=1))
        await mediator.send(JoinMeetingCommand(user_id="grace", meeting_id=1))
    assert storage == {1: ["ada", "grace"]}
    assert out.getvalue().splitlines() == [
        "User ada joined meeting 1",
        "Handle user ada joined meeting 1 event",
        "User grace joined meeting 1",
        "Handle user grace joined meeting 1 event",
    ]


class UserJoinedNotificationPayload(cqrs.Response):
    user_id: str
    meeting_id: int


class UserJoinedECSTPayload(cqrs.Response):
    user_id: str
    meeting_id: int


async def test_notification_events_are_published_and_consumed_back(modules: Modules) -> None:
    seed = await modules.run(
        "seed_notifications",
        SEED_NOTIFICATION_EVENTS,
        cqrs=cqrs,
        JoinMeetingCommand=JoinMeetingCommand,
        UserJoinedNotificationPayload=UserJoinedNotificationPayload,
        UserJoinedECSTPayload=UserJoinedECSTPayload,
    )
    broker = cqrs.MemoryMessageBroker()
    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, seed.JoinMeetingCommandHandler),
        message_broker=broker,
    )
    with captured_stdout() as out:
        await mediator.send(JoinMeetingCommand(user_id="ada", meeting_id=5))
    assert out.getvalue() == "User ada joined meeting 5\n"

    [notification] = broker.messages["user_notification_events"]
    [ecst] = broker.messages["user_ecst_events"]
    assert notification.message_name == ecst.message_name == "UserJoined"
    assert notification.message_id != ecst.message_id

    read_model: dict[int, list[str]] = {}
    ecst_event = cqrs.NotificationEvent[UserJoinedECSTPayload]

    class UpdateReadModel(cqrs.EventHandler[cqrs.NotificationEvent[UserJoinedECSTPayload]]):
        async def handle(self, event: cqrs.NotificationEvent[UserJoinedECSTPayload]) -> None:
            read_model.setdefault(event.payload.meeting_id, []).append(event.payload.user_id)

    event_mediator = cqrs.events.bootstrap.bootstrap(
        events_mapper=lambda m: m.bind(ecst_event, UpdateReadModel),
    )
    import json

    consumed = ecst_event.from_dict(json.loads(ecst.payload))
    assert consumed.event_id == ecst.message_id
    await event_mediator.send(consumed)
    assert read_model == {5: ["ada"]}


class LongJob(cqrs.Request):
    steps: int


class StepDone(cqrs.DomainEvent):
    step: int


async def test_concurrency_configuration_of_bootstrap_streaming(modules: Modules) -> None:
    in_flight = 0
    peak = 0
    handled: list[int] = []

    class LongJobHandler(cqrs.StreamingRequestHandler[LongJob, int]):
        async def handle(self, request: LongJob) -> AsyncIterator[int]:
            self._events = [StepDone(step=i) for i in range(request.steps)]
            yield request.steps

    class SlowStepHandler(cqrs.EventHandler[StepDone]):
        async def handle(self, event: StepDone) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0)
            in_flight -= 1
            handled.append(event.step)

    def commands_mapper(mapper: cqrs.RequestMap) -> None:
        mapper.bind(LongJob, LongJobHandler)

    def domain_events_mapper(mapper: cqrs.EventMap) -> None:
        mapper.bind(StepDone, SlowStepHandler)

    seed = await modules.run(
        "seed_concurrency",
        SEED_CONCURRENCY,
        container=cqrs.BuiltinContainer(),
        commands_mapper=commands_mapper,
        domain_events_mapper=domain_events_mapper,
        broker=cqrs.MemoryMessageBroker(),
    )
    assert isinstance(seed.mediator, cqrs.StreamingRequestMediator)
    assert [r async for r in seed.mediator.stream(LongJob(steps=8))] == [8]
    assert sorted(handled) == list(range(8))
    assert peak == 3


async def test_pydantic_payload_handler_from_the_faststream_example(modules: Modules) -> None:
    """The core-only part of the FastStream seed: a Pydantic payload and its event handler."""
    import json

    import pydantic

    seed = await modules.run(
        "seed_faststream", SEED_FASTSTREAM_HANDLER_EXCERPT, cqrs=cqrs, pydantic=pydantic
    )
    event_type = cqrs.NotificationEvent[seed.HelloWorldPayload]
    event_mediator = cqrs.events.bootstrap.bootstrap(
        events_mapper=lambda m: m.bind(event_type, seed.HelloWorldECSTEventHandler),
    )
    sent = event_type(
        event_name="HelloWorld", topic="hello_world", payload=seed.HelloWorldPayload()
    )
    body = event_type.from_dict(json.loads(cqrs.Message.from_event(sent).payload))
    with captured_stdout() as out:
        await event_mediator.send(body)
    assert out.getvalue() == "Hello World\n"


# --- Mapping functions and bootstrap with an `app` package ----------------------------------


class MeetingRoomClosed(cqrs.Response):
    meeting_room_id: int


@pytest.fixture
def app_package(modules: Modules) -> types.ModuleType:
    """The `app` package the mapping and bootstrap seeds import from, filled by the prelude."""
    app = modules.new("app")
    modules.new("app.commands", JoinMeetingCommand=JoinMeetingCommand)
    modules.new("app.queries", ReadMeetingQuery=ReadMeetingQuery)
    modules.new(
        "app.events",
        NotificationMeetingRoomClosed=MeetingRoomClosed,
        ECSTMeetingRoomClosed=type("ECSTMeetingRoomClosed", (MeetingRoomClosed,), {}),
    )
    closed: list[tuple[str, int]] = []

    class MeetingRoomClosedNotificationHandler(
        cqrs.EventHandler[cqrs.NotificationEvent[MeetingRoomClosed]]
    ):
        async def handle(self, event: cqrs.NotificationEvent[MeetingRoomClosed]) -> None:
            closed.append(("notified", event.payload.meeting_room_id))

    class UpdateMeetingRoomReadModelHandler(cqrs.EventHandler[cqrs.NotificationEvent[Any]]):
        async def handle(self, event: cqrs.NotificationEvent[Any]) -> None:
            closed.append(("read model", event.payload.meeting_room_id))

    modules.new(
        "app.event_handlers",
        MeetingRoomClosedNotificationHandler=MeetingRoomClosedNotificationHandler,
        UpdateMeetingRoomReadModelHandler=UpdateMeetingRoomReadModelHandler,
        closed=closed,
    )
    api = FakeMeetingAPI()
    modules.new("app.dependencies", setup_di=lambda: meetings_container(api), api=api)
    startups: list[str] = []
    modules.new(
        "app.orm", init_store_event_mapper=lambda: startups.append("mapped"), startups=startups
    )
    return app


async def _load_app_handlers(modules: Modules) -> None:
    """`app.command_handlers` and `app.query_handlers` are the request handler seeds."""
    await modules.run("app.command_handlers", SEED_COMMAND_HANDLER, **MEETING_PRELUDE)
    await modules.run("app.query_handlers", SEED_QUERY_HANDLER, **MEETING_PRELUDE)


async def test_mapping_functions_bind_generic_notification_events(
    modules: Modules, app_package: types.ModuleType
) -> None:
    await _load_app_handlers(modules)
    # The seed writes `events_models` once where it means `event_models`; the prelude supplies it.
    mapping = await modules.run("app.mapping", SEED_MAPPING, events_models=app_package.events)
    request_map = cqrs.RequestMap()
    mapping.init_commands(request_map)
    mapping.init_queries(request_map)
    assert (
        request_map.get(JoinMeetingCommand)
        is app_package.command_handlers.JoinMeetingCommandHandler
    )
    assert request_map.get(ReadMeetingQuery) is app_package.query_handlers.ReadMeetingQueryHandler

    event_map = cqrs.EventMap()
    mapping.init_events(event_map)
    notification = cqrs.NotificationEvent[app_package.events.NotificationMeetingRoomClosed]
    ecst = cqrs.NotificationEvent[app_package.events.ECSTMeetingRoomClosed]
    assert event_map.get(notification) == (
        app_package.event_handlers.MeetingRoomClosedNotificationHandler,
    )
    assert event_map.get(ecst) == (app_package.event_handlers.UpdateMeetingRoomReadModelHandler,)


async def test_bootstrap_with_lru_cached_factories(
    modules: Modules, app_package: types.ModuleType
) -> None:
    await _load_app_handlers(modules)
    await modules.run("app.mapping", SEED_MAPPING, events_models=app_package.events)
    seed = await modules.run("app.main", SEED_BOOTSTRAP)

    mediator = seed.mediator_factory()
    assert seed.mediator_factory() is mediator
    event_mediator = seed.event_mediator_factory()
    assert seed.event_mediator_factory() is event_mediator
    assert app_package.orm.startups == ["mapped", "mapped"]

    await mediator.send(JoinMeetingCommand(user_id="ada", meeting_id=9))
    assert app_package.dependencies.api.joined == [("ada", 9)]
    result = await mediator.send(ReadMeetingQuery(meeting_id=9))
    assert result.link == "https://meet.example.com/9"

    events_module = app_package.events
    await event_mediator.send(
        cqrs.NotificationEvent[events_module.ECSTMeetingRoomClosed](
            event_name="MeetingRoomClosed",
            topic="meeting_rooms",
            payload=events_module.ECSTMeetingRoomClosed(meeting_room_id=9),
        )
    )
    await event_mediator.send(
        cqrs.NotificationEvent[events_module.NotificationMeetingRoomClosed](
            event_name="MeetingRoomClosed",
            topic="meeting_rooms",
            payload=events_module.NotificationMeetingRoomClosed(meeting_room_id=9),
        )
    )
    assert app_package.event_handlers.closed == [("read model", 9), ("notified", 9)]


# --- The documentation index's quickstart ---------------------------------------------------


async def test_docs_index_quickstart(modules: Modules) -> None:
    with warnings.catch_warnings():
        # The seed calls datetime.utcnow(), deprecated from Python 3.12 on; 3.11 says nothing.
        warnings.filterwarnings("ignore", r"datetime\.datetime\.utcnow", DeprecationWarning)
        with captured_stdout() as out:
            seed = await modules.run("seed_quickstart", SEED_DOCS_QUICKSTART)
    assert out.getvalue() == (
        "User created: John Doe (user@example.com) with ID: user_user@example.com\n"
    )
    assert seed.result == seed.CreateUserResponse(
        user_id="user_user@example.com", email="user@example.com", name="John Doe"
    )
    assert seed.user_data.name == "John Doe"
    assert seed.user_data.created_at == "2024-01-01T00:00:00Z"
