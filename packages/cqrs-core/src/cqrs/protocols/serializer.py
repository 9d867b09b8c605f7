"""Serializer and compressor boundaries used by brokers and the outbox."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Compressor", "EventSerializer", "Serializer"]

E = TypeVar("E")


@runtime_checkable
class Serializer(Protocol):
    """Turns JSON-compatible data into bytes and back; `loads(dumps(x)) == x`."""

    content_type: str

    def dumps(self, data: Any) -> bytes: ...

    def loads(self, raw: bytes) -> Any: ...


@runtime_checkable
class EventSerializer(Protocol):
    """Serializes whole events, for schema-bound formats such as protobuf.

    Outboxes, brokers and consumers given one call it instead of serializing `event.to_dict()`;
    `loads_event(dumps_event(e), type(e))` rebuilds an event equal to `e`, and a payload that
    does not decode raises `ValueError`.
    """

    content_type: str

    def dumps_event(self, event: Any) -> bytes: ...

    def loads_event(self, raw: bytes, event_type: type[E]) -> E: ...


@runtime_checkable
class Compressor(Protocol):
    """Compresses bytes losslessly; `decompress(compress(b)) == b`."""

    def compress(self, value: bytes) -> bytes: ...

    def decompress(self, value: bytes) -> bytes: ...
