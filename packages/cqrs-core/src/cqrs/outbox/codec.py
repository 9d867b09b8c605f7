"""How an event becomes the stored columns of an outbox row, and its payload comes back.

Outbox repositories outside core (`cqrs-sqla`, third-party ones) use `RowCodec` so that every
outbox checks topics and field sizes, serializes and compresses the same way::

    codec = RowCodec(serializer=None, compressor=None)
    row = codec.columns(event)                 # insert these with the row's delivery state
    payload = codec.decode(row["payload"])     # what a relay publishes
"""

from __future__ import annotations

import json
from typing import Any

from cqrs.correlation import stamp
from cqrs.errors import MessageRejectedError
from cqrs.interception.registry import registered
from cqrs.outbox.topics import DEFAULT_TOPIC_RULES, TopicRules, check_topic
from cqrs.protocols.models import INotificationEvent
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer
from cqrs.serializers import JsonSerializer, event_dumper

__all__ = ["MAX_HEADERS_CHARS", "RowCodec"]

MAX_HEADERS_CHARS = 4096
"""Largest stored form (JSON) of the headers kept with one outbox row."""

_MAX_FIELD_CHARS = 255
"""Size of the outbox's event name, partition key and trace id columns."""


class RowCodec:
    """Serializes events for storage (then compresses, if a compressor is set) and reverses it.

    Without a serializer it writes JSON (`JsonSerializer`); `topic_rules` decide which topics
    `columns` accepts.
    """

    __slots__ = ("_dump", "compressor", "serializer", "topic_rules")

    def __init__(
        self,
        serializer: Serializer | EventSerializer | None,
        compressor: Compressor | None,
        topic_rules: TopicRules = DEFAULT_TOPIC_RULES,
    ) -> None:
        self.serializer: Serializer | EventSerializer = serializer or JsonSerializer()
        self.compressor = compressor
        self.topic_rules = topic_rules
        self._dump = event_dumper(self.serializer)

    def encode(self, event: INotificationEvent) -> bytes:
        """The stored payload of `event`: serialized, then compressed."""
        raw = self._dump(event)
        return self.compressor.compress(raw) if self.compressor is not None else raw

    def decode(self, stored: bytes) -> bytes:
        """The serialized event from a stored payload (decompressed), as relays publish it."""
        return self.compressor.decompress(stored) if self.compressor is not None else stored

    def columns(self, event: INotificationEvent) -> dict[str, Any]:
        """Every stored field of `event`'s row except its id and delivery state.

        Correlation and causation ids the event lacks come from the current scope
        (`cqrs.correlation`), and `headers` from the registered interceptors (stored as
        JSON). Raises `InvalidTopicError` for a topic the rules refuse and
        `MessageRejectedError` for an event name, key or trace id over 255 characters or
        headers over `MAX_HEADERS_CHARS`, before anything is staged.
        """
        correlation_id, causation_id = stamp(event.correlation_id, event.causation_id)
        for field, value in (
            ("event_name", event.event_name),
            ("partition_key", event.partition_key),
            ("correlation_id", correlation_id),
            ("causation_id", causation_id),
        ):
            if value is not None and len(value) > _MAX_FIELD_CHARS:
                raise MessageRejectedError(
                    f"{field} of {type(event).__name__} has {len(value)} characters; "
                    f"the outbox stores at most {_MAX_FIELD_CHARS}"
                )
        return {
            "event_id": event.event_id,
            "event_name": event.event_name,
            "topic": check_topic(event.topic, self.topic_rules),
            "partition_key": event.partition_key,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "created_at": event.timestamp,
            "content_type": self.serializer.content_type,
            "payload": self.encode(event),
            "headers": _captured_headers(event),
        }

    @staticmethod
    def read_headers(stored: str | None) -> dict[str, str] | None:
        """The headers of a row from their stored form (`None` when the row has none)."""
        if not stored:
            return None
        loaded = json.loads(stored)
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else None


def _captured_headers(event: INotificationEvent) -> str | None:
    """The registered interceptors' headers for `event` (`Interceptor.on_outbox_add`), in their
    stored form: compact JSON, or `None` when there are none."""
    interceptors = registered()
    if not interceptors:
        return None
    headers: dict[str, str] = {}
    for interceptor in interceptors:
        interceptor.on_outbox_add(event, headers)
    if not headers:
        return None
    stored = json.dumps(headers, separators=(",", ":"))
    if len(stored) > MAX_HEADERS_CHARS:
        raise MessageRejectedError(
            f"the headers captured for {type(event).__name__} take {len(stored)} characters; "
            f"the outbox stores at most {MAX_HEADERS_CHARS}"
        )
    return stored
