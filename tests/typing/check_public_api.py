"""Static checks of the public API's types, run by mypy in the `typecheck` session.

Lines ending in `# type: ignore[...]` must produce exactly that error: with
`warn_unused_ignores` (strict mode), an ignore that stops matching fails the session.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, assert_type

from google.protobuf import wrappers_pb2

import cqrs
from cqrs.events import EventMap
from cqrs.interception import Interceptor, PublishCall
from cqrs.plugins import make_message_broker
from cqrs.requests import RequestMap
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.models import SagaContext
from cqrs.saga.step import SagaStepResult
from cqrs_protobuf import ProtobufEvent, ProtobufSerializer


class Payload(cqrs.Response):
    user_id: str


class CreateUser(cqrs.Request):
    email: str
    name: str = "anonymous"


class CreateUserHandler(cqrs.RequestHandler[CreateUser, Payload]):
    async def handle(self, request: CreateUser) -> Payload:
        assert_type(request.email, str)
        return Payload(user_id=request.email)


class Created(cqrs.DomainEvent):
    user_id: str


class CreatedHandler(cqrs.EventHandler[Created]):
    async def handle(self, event: Created) -> None:
        assert_type(event.user_id, str)


def models() -> None:
    command = CreateUser(email="a@example.com")
    assert_type(command.name, str)
    assert_type(CreateUser.from_dict({"email": "x"}), CreateUser)
    CreateUser(email="a@example.com", nickname="x")  # type: ignore[call-arg]
    CreateUser("a@example.com")  # type: ignore[call-arg]
    CreateUser(email=1)  # type: ignore[arg-type]

    event = cqrs.NotificationEvent[Payload](
        event_name="UserCreated", topic="users", payload=Payload(user_id="1")
    )
    assert_type(event.payload, Payload)
    assert_type(event.event_id, uuid.UUID)
    assert_type(event.partition_key, str | None)


def mapping(requests: RequestMap, events: EventMap) -> None:
    requests.bind(CreateUser, CreateUserHandler)
    events.bind(Created, CreatedHandler)


async def mediators() -> None:
    mediator = bootstrap(commands_mapper=lambda m: m.bind(CreateUser, CreateUserHandler))
    assert_type(mediator, cqrs.RequestMediator)
    streaming = bootstrap_streaming()
    assert_type(streaming, cqrs.StreamingRequestMediator)
    events = cqrs.events.bootstrap.bootstrap()
    assert_type(events, cqrs.EventMediator)
    await mediator.send(CreateUser(email="a@example.com"))
    container = cqrs.BuiltinContainer()
    assert_type(await container.resolve(CreateUserHandler), CreateUserHandler)
    assert_type(container.get(CreateUserHandler), CreateUserHandler)


class GetUser(cqrs.Request[Payload]):
    user_id: str


class GetUserHandler(cqrs.RequestHandler[GetUser, Payload]):
    async def handle(self, request: GetUser) -> Payload:
        return Payload(user_id=request.user_id)


class ListUsers(cqrs.Request[Payload]):
    limit: int


async def typed_results(
    mediator: cqrs.RequestMediator,
    streaming: cqrs.StreamingRequestMediator,
    sender: cqrs.IRequestMediator,
) -> None:
    assert_type(await mediator.send(GetUser(user_id="1")), Payload)
    assert_type(await sender.send(GetUser(user_id="1")), Payload)
    assert_type(await mediator.send(CreateUser(email="a@example.com")), Any)
    async for item in streaming.stream(ListUsers(limit=3)):
        assert_type(item, Payload)
    (await mediator.send(GetUser(user_id="1"))).missing  # type: ignore[attr-defined]


@dataclasses.dataclass
class Order(SagaContext):
    order_id: str


async def typed_sagas(sagas: SagaMediator) -> None:
    async for step in sagas.stream(Order(order_id="o-1")):
        assert_type(step, SagaStepResult[Order, Any])
        assert_type(step.saga_id, uuid.UUID | None)
    results = await sagas.execute(Order(order_id="o-2"))
    assert_type(results, list[SagaStepResult[Order, Any]])


async def brokers() -> None:
    broker = make_message_broker("memory://")
    assert_type(broker, cqrs.ManagedMessageBroker)
    await broker.connect()
    await broker.send_message(cqrs.Message(topic="t", payload=b"{}", message_name="M"))
    await broker.close()
    plain: cqrs.MessageBroker = cqrs.DevnullMessageBroker()
    await plain.close()  # type: ignore[attr-defined]
    lifecycle: cqrs.BrokerLifecycle = broker
    await lifecycle.close()


def interceptors() -> None:
    class Tracing(Interceptor):
        async def intercept_publish(
            self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
        ) -> None:
            assert_type(call.messages, Sequence[cqrs.Message])
            await proceed(call)

    bootstrap(interceptors=[Tracing()])
    bootstrap(interceptors=[object()])  # type: ignore[list-item]


class Greeted(cqrs.NotificationEvent[Payload]):
    def proto(self) -> wrappers_pb2.StringValue:
        return wrappers_pb2.StringValue(value=self.payload.user_id)

    @classmethod
    def from_proto(cls, proto: wrappers_pb2.StringValue) -> Greeted:
        return cls(event_name="Greeted", topic="greetings", payload=Payload(user_id=proto.value))


def protobuf() -> None:
    serializer: cqrs.EventSerializer = ProtobufSerializer()
    event = Greeted(event_name="Greeted", topic="greetings", payload=Payload(user_id="1"))
    assert_type(ProtobufSerializer().loads_event(b"", Greeted), Greeted)
    assert_type(serializer.dumps_event(event), bytes)
    convertible: ProtobufEvent[wrappers_pb2.StringValue] = event
    assert_type(convertible.proto(), wrappers_pb2.StringValue)
    wrong: ProtobufEvent[wrappers_pb2.Int64Value] = event  # type: ignore[assignment]
    assert_type(wrong.proto(), wrappers_pb2.Int64Value)
