"""ProtobufSerializer on its own: round trips, message class discovery, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orders_pb2
import pytest
from order_events import OrderCancelled, OrderPlaced, cancelled, placed

import cqrs
from cqrs.brokers.message import Message
from cqrs.consumer import MessageDispatcher, Verdict
from cqrs.events.bootstrap import bootstrap
from cqrs_protobuf import (
    PROTOBUF_CONTENT_TYPE,
    ProtobufEvent,
    ProtobufSerializer,
    proto_message_type,
)


def test_is_an_event_serializer_and_events_are_protobuf_events() -> None:
    assert isinstance(ProtobufSerializer(), cqrs.EventSerializer)
    assert isinstance(placed("o1"), ProtobufEvent)
    assert not isinstance(
        cqrs.NotificationEvent(event_name="x", topic="t", payload=None), ProtobufEvent
    )


def test_round_trip_keeps_nested_repeated_map_and_timestamp_fields() -> None:
    serializer = ProtobufSerializer()
    event = placed("o1")

    raw = serializer.dumps_event(event)

    assert raw == event.proto().SerializeToString(deterministic=True)
    assert serializer.loads_event(raw, OrderPlaced) == event
    assert orders_pb2.OrderPlaced.FromString(raw).lines[1].sku == "pear"


def test_deterministic_bytes_do_not_depend_on_map_insertion_order() -> None:
    first = placed("o1", tags={"a": "1", "b": "2", "c": "3"})
    second = placed("o1", tags={"c": "3", "a": "1", "b": "2"})
    second = OrderPlaced(
        **{**vars(second), "event_id": first.event_id, "timestamp": first.timestamp}
    )

    serializer = ProtobufSerializer()
    assert serializer.dumps_event(first) == serializer.dumps_event(second)


def test_message_class_comes_from_proto_return_else_from_proto_parameter() -> None:
    assert proto_message_type(OrderPlaced) is orders_pb2.OrderPlaced
    assert proto_message_type(OrderCancelled) is orders_pb2.OrderCancelled
    event = cancelled("o2")
    serializer = ProtobufSerializer()
    assert serializer.loads_event(serializer.dumps_event(event), OrderCancelled) == event


def test_an_event_without_proto_methods_is_refused_with_its_name() -> None:
    class Plain(cqrs.NotificationEvent[None]):
        pass

    with pytest.raises(TypeError, match=r"Plain has no proto\(\)"):
        ProtobufSerializer().dumps_event(Plain(event_name="Plain", topic="t", payload=None))
    with pytest.raises(TypeError, match=r"Plain has no proto\(\)"):
        proto_message_type(Plain)


def test_unannotated_methods_are_refused_with_advice() -> None:
    class Vague(cqrs.NotificationEvent[None]):
        def proto(self):  # type: ignore[no-untyped-def]
            return orders_pb2.OrderCancelled()

        @classmethod
        def from_proto(cls, proto):  # type: ignore[no-untyped-def]
            return cls(event_name="Vague", topic="t", payload=None)

    with pytest.raises(TypeError, match=r"annotate the return type of .*Vague\.proto\(\)"):
        ProtobufSerializer().loads_event(b"", Vague)


def test_proto_returning_something_else_is_refused() -> None:
    class Wrong(cqrs.NotificationEvent[None]):
        def proto(self) -> dict[str, str]:
            return {"not": "a message"}

    with pytest.raises(TypeError, match=r"Wrong\.proto\(\) returned dict, not a protobuf message"):
        ProtobufSerializer().dumps_event(Wrong(event_name="Wrong", topic="t", payload=None))


def test_bytes_that_do_not_parse_raise_value_error_naming_the_message() -> None:
    with pytest.raises(ValueError, match=r"not a cqrs_protobuf_tests\.OrderPlaced message"):
        ProtobufSerializer().loads_event(b"\xff\xff\xff\xff", OrderPlaced)


def test_a_message_from_proto_rejects_raises_value_error() -> None:
    raw = orders_pb2.OrderCancelled(event_id=str(cancelled("o3").event_id)).SerializeToString()
    with pytest.raises(
        ValueError,
        match="from_proto rejected the message: ValueError: a cancellation needs a reason",
    ):
        ProtobufSerializer().loads_event(raw, OrderCancelled)


def test_message_from_event_carries_protobuf_content_type_and_bytes() -> None:
    serializer = ProtobufSerializer()
    event = placed("o4")

    message = Message.from_event(event, serializer)

    assert message.content_type == PROTOBUF_CONTENT_TYPE
    assert message.headers()["content-type"] == "application/x-protobuf"
    assert message.payload == serializer.dumps_event(event)
    assert message.message_id == event.event_id


async def test_dispatcher_decodes_by_event_type_header_and_dead_letters_garbage() -> None:
    seen: list[object] = []

    class Record(cqrs.EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            seen.append(event)

    serializer = ProtobufSerializer()
    mediator = bootstrap(events_mapper=lambda m: m.bind(OrderPlaced, Record))
    dispatcher = MessageDispatcher(
        mediator,
        {"OrderPlaced": OrderPlaced, "OrderCancelled": OrderCancelled},
        serializer=serializer,
    )
    event = placed("o5")

    handled = await dispatcher.dispatch(Message.from_event(event, serializer))
    garbage = await dispatcher.dispatch(
        Message(topic="orders", payload=b"\x0a\xff", message_name="OrderPlaced")
    )
    json_body = await dispatcher.dispatch(Message.from_event(event))

    assert handled.verdict is Verdict.HANDLED
    assert seen == [event]
    assert garbage.verdict is Verdict.DEAD_LETTER
    assert "cqrs_protobuf_tests.OrderPlaced" in (garbage.reason or "")
    assert json_body.verdict is Verdict.DEAD_LETTER


def test_committed_generated_code_matches_the_proto(tmp_path: Path) -> None:
    """`protos/orders_pb2.py(i)` are what `nox -s protos` generates from `orders.proto`."""
    protos = Path(__file__).parent / "protos"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{protos}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(protos / "orders.proto"),
        ],
        check=True,
    )
    for name in ("orders_pb2.py", "orders_pb2.pyi"):
        assert (tmp_path / name).read_text() == (protos / name).read_text(), name
