"""How an event becomes the stored payload of an outbox row, and back."""

from __future__ import annotations

from typing import Any

from cqrs.protocols.models import INotificationEvent
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer
from cqrs.serializers import JsonSerializer, event_dumper

__all__: list[str] = []


class RowCodec:
    """Serializes events for storage (then compresses, if a compressor is set) and reverses it."""

    __slots__ = ("_dump", "compressor", "serializer")

    def __init__(
        self, serializer: Serializer | EventSerializer | None, compressor: Compressor | None
    ) -> None:
        self.serializer: Serializer | EventSerializer = serializer or JsonSerializer()
        self.compressor = compressor
        self._dump = event_dumper(self.serializer)

    def encode(self, event: INotificationEvent) -> bytes:
        raw = self._dump(event)
        return self.compressor.compress(raw) if self.compressor is not None else raw

    def decode(self, stored: bytes) -> bytes:
        return self.compressor.decompress(stored) if self.compressor is not None else stored

    def columns(self, event: INotificationEvent) -> dict[str, Any]:
        """Every stored field of `event`'s row except its id and delivery state."""
        return {
            "event_id": event.event_id,
            "event_name": event.event_name,
            "topic": event.topic,
            "partition_key": event.partition_key,
            "correlation_id": event.correlation_id,
            "causation_id": event.causation_id,
            "created_at": event.timestamp,
            "content_type": self.serializer.content_type,
            "payload": self.encode(event),
        }
