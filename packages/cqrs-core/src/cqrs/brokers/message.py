"""The broker-neutral message every broker publishes, and the headers that carry its metadata."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cqrs.correlation import stamp

if TYPE_CHECKING:
    from cqrs.protocols.models import INotificationEvent
    from cqrs.protocols.serializer import EventSerializer, Serializer

__all__ = ["HEADER_NAMES", "Message"]

HEADER_NAMES = {
    "message_id": "event-id",
    "message_name": "event-type",
    "key": "event-key",
    "timestamp": "event-timestamp",
    "correlation_id": "correlation-id",
    "causation_id": "causation-id",
}
"""Broker header carrying each piece of metadata; every broker adapter uses these names."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One serialized event addressed to a topic, with the metadata brokers put in headers."""

    topic: str
    payload: bytes
    message_name: str
    message_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    key: str | None = None
    timestamp: datetime.datetime | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    content_type: str = "application/json"
    extra_headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_event(
        cls, event: INotificationEvent, serializer: Serializer | EventSerializer | None = None
    ) -> Message:
        """Serialize a notification event (JSON unless a serializer is given) into a message;
        correlation and causation ids the event lacks come from the current scope
        (`cqrs.correlation`)."""
        from cqrs.serializers import JsonSerializer, event_dumper

        if serializer is None:
            serializer = JsonSerializer()
        correlation_id, causation_id = stamp(event.correlation_id, event.causation_id)
        return cls(
            topic=event.topic,
            payload=event_dumper(serializer)(event),
            message_name=event.event_name,
            message_id=event.event_id,
            key=event.partition_key,
            timestamp=event.timestamp,
            correlation_id=correlation_id,
            causation_id=causation_id,
            content_type=serializer.content_type,
        )

    def headers(self) -> dict[str, str]:
        """All metadata as string headers, extra headers last, `None` values omitted."""
        result = {"content-type": self.content_type}
        for attr, header in HEADER_NAMES.items():
            value = getattr(self, attr)
            if value is None:
                continue
            result[header] = (
                value.isoformat() if isinstance(value, datetime.datetime) else str(value)
            )
        result.update(self.extra_headers)
        return result

    @classmethod
    def from_headers(cls, topic: str, payload: bytes, headers: Mapping[str, str]) -> Message:
        """Rebuild a message from what a consumer received; unknown headers become extra headers."""
        known = set(HEADER_NAMES.values()) | {"content-type"}
        stamp = headers.get("event-timestamp")
        raw_id = headers.get("event-id")
        return cls(
            topic=topic,
            payload=payload,
            message_name=headers.get("event-type", ""),
            message_id=uuid.UUID(raw_id) if raw_id else uuid.uuid4(),
            key=headers.get("event-key"),
            timestamp=datetime.datetime.fromisoformat(stamp) if stamp else None,
            correlation_id=headers.get("correlation-id"),
            causation_id=headers.get("causation-id"),
            content_type=headers.get("content-type", "application/json"),
            extra_headers={k: v for k, v in headers.items() if k not in known},
        )
