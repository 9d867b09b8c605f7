"""What an event needs to travel as protobuf: the seeds' `proto()` / `from_proto()` pair."""

from __future__ import annotations

from typing import Protocol, Self, TypeVar, runtime_checkable

from google.protobuf.message import Message

__all__ = ["ProtobufEvent"]

ProtoT = TypeVar("ProtoT", bound=Message)


@runtime_checkable
class ProtobufEvent(Protocol[ProtoT]):
    """An event convertible to and from one generated protobuf message class.

    `from_proto(event.proto())` must equal `event`. Put the envelope the consumer needs in the
    message too (at least `event_id`, which an inbox deduplicates on): the broker headers are not
    passed to `from_proto`. `ProtobufSerializer` finds the message class from the return
    annotation of `proto` (or the parameter annotation of `from_proto`).
    """

    def proto(self) -> ProtoT: ...

    @classmethod
    def from_proto(cls, proto: ProtoT) -> Self: ...
