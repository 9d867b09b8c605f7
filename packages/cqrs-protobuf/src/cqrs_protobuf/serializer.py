"""`ProtobufSerializer`: notification events as protobuf bytes, for brokers and the outbox."""

from __future__ import annotations

import typing
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, EncodeError, Message

from cqrs.errors import ModelValidationError

__all__ = ["PROTOBUF_CONTENT_TYPE", "ProtobufSerializer", "proto_message_type"]

PROTOBUF_CONTENT_TYPE = "application/x-protobuf"
"""The content type protobuf payloads carry in the outbox and in broker headers."""

E = TypeVar("E")


def proto_message_type(event_type: type[Any]) -> type[Message]:
    """The generated message class `event_type` converts to: the return annotation of its
    `proto()`, else the parameter annotation of its `from_proto()`.

    Raises `TypeError` naming what is missing when neither resolves to a protobuf message class.
    """
    for method, key in (("proto", "return"), ("from_proto", None)):
        function = getattr(event_type, method, None)
        if function is None:
            raise TypeError(
                f"{event_type.__qualname__} has no {method}(); protobuf events define proto() "
                "and from_proto() (see cqrs_protobuf.ProtobufEvent)"
            )
        try:
            hints = typing.get_type_hints(function)
        except Exception:  # an unresolvable forward reference: try the other method
            continue
        if key is None:
            hints.pop("return", None)
            candidates = list(hints.values())
        else:
            candidates = [hints.get(key)]
        for hint in candidates:
            if isinstance(hint, type) and issubclass(hint, Message):
                return hint
    raise TypeError(
        f"cannot tell which protobuf message {event_type.__qualname__} converts to: annotate "
        f"the return type of {event_type.__qualname__}.proto() with the generated message class "
        "(imported at module level, not only under TYPE_CHECKING)"
    )


class ProtobufSerializer:
    """Serializes events through their `proto()` and rebuilds them with `from_proto()`.

    An `EventSerializer`: give it to an outbox (`SqlAlchemyOutboxedEventRepository(...,
    serializer=ProtobufSerializer())`), to `Message.from_event` or an `EventEmitter` publishing
    directly, and to the consumer's `MessageDispatcher`, which picks the event type from the
    `event-type` header. Bytes that do not parse as the event's message, or that `from_proto`
    rejects, raise `ValueError` (the dispatcher dead-letters them with that reason). With
    `deterministic`, map fields are written in key order so equal events give equal bytes.
    """

    content_type = PROTOBUF_CONTENT_TYPE

    def __init__(self, *, deterministic: bool = True) -> None:
        self.deterministic = deterministic
        self._message_types: dict[type[Any], type[Message]] = {}

    def message_type(self, event_type: type[Any]) -> type[Message]:
        """`proto_message_type(event_type)`, remembered for the next call."""
        found = self._message_types.get(event_type)
        if found is None:
            found = self._message_types[event_type] = proto_message_type(event_type)
        return found

    def dumps_event(self, event: Any) -> bytes:
        """The protobuf bytes of `event.proto()`."""
        proto_method = getattr(event, "proto", None)
        if proto_method is None:
            raise TypeError(
                f"{type(event).__qualname__} has no proto(); protobuf events define proto() "
                "and from_proto() (see cqrs_protobuf.ProtobufEvent)"
            )
        proto = proto_method()
        if not isinstance(proto, Message):
            raise TypeError(
                f"{type(event).__qualname__}.proto() returned {type(proto).__qualname__}, "
                "not a protobuf message"
            )
        try:
            return proto.SerializeToString(deterministic=self.deterministic)
        except EncodeError as exc:
            raise ValueError(f"{type(event).__qualname__} does not encode: {exc}") from exc

    def loads_event(self, raw: bytes, event_type: type[E]) -> E:
        """The `event_type` event whose `proto()` gave `raw`."""
        message_type = self.message_type(event_type)
        try:
            proto = message_type.FromString(raw)
        except DecodeError as exc:
            raise ValueError(
                f"payload is not a {message_type.DESCRIPTOR.full_name} message: {exc}"
            ) from exc
        try:
            event: E = event_type.from_proto(proto)  # type: ignore[attr-defined]
        except (ModelValidationError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(
                f"{event_type.__qualname__}.from_proto rejected the message: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return event

    def __repr__(self) -> str:
        return f"{type(self).__name__}(deterministic={self.deterministic})"
