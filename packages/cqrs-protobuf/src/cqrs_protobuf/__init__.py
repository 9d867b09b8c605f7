"""Protobuf serialization of cqrs notification events, for brokers, the outbox and consumers.

Events define the seeds' `proto()` / `from_proto()` pair; `ProtobufSerializer` is the
`cqrs.EventSerializer` that writes them as protobuf bytes and reads them back.
"""

from __future__ import annotations

from cqrs_protobuf.event import ProtobufEvent
from cqrs_protobuf.serializer import PROTOBUF_CONTENT_TYPE, ProtobufSerializer, proto_message_type

__all__ = ["PROTOBUF_CONTENT_TYPE", "ProtobufEvent", "ProtobufSerializer", "proto_message_type"]
