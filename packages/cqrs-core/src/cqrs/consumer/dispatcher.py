"""Broker-neutral handling of one consumed message: decode, validate, deduplicate, dispatch.

Consumer runners of broker adapters (Kafka, RabbitMQ, ...) feed every received message to a
`MessageDispatcher` and act on its `Outcome`: acknowledge/commit on `HANDLED` and `DUPLICATE`,
dead-letter (with `reason`) on `DEAD_LETTER`. Bad input never raises out of `dispatch`, so the
consumer keeps running.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import enum
import logging
from collections.abc import Mapping
from typing import Any

from cqrs.exceptions import ModelValidationError
from cqrs.outbox.backoff import ExponentialBackoff
from cqrs.protocols.inbox import Inbox
from cqrs.protocols.mediators import IEventMediator
from cqrs.protocols.message_broker import Message
from cqrs.protocols.serializer import EventSerializer, Serializer
from cqrs.serializers import JsonSerializer

__all__ = [
    "DEAD_LETTER_REASON_HEADER",
    "MessageDispatcher",
    "Outcome",
    "Verdict",
    "inbox_session",
]

DEAD_LETTER_REASON_HEADER = "dead-letter-reason"
"""Header carrying why a message was dead-lettered."""

_log = logging.getLogger("cqrs.consumer")
_inbox_session: contextvars.ContextVar[Any] = contextvars.ContextVar("cqrs_inbox_session")


def inbox_session() -> Any:
    """The inbox transaction handling the current message: write effects through it so they
    commit together with the inbox record (exactly-once effects). Raises `LookupError` outside
    a dispatch with an inbox."""
    return _inbox_session.get()


class Verdict(enum.Enum):
    """What the consumer should do with the message."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one message and, for dead letters, the reason."""

    verdict: Verdict
    reason: str | None = None


class MessageDispatcher:
    """Turns consumed messages into events and sends them to an event mediator.

    `event_types` maps each event name (the `event-type` header, else the payload's
    `event_name`) to the model class to rebuild, e.g. `{"UserJoined":
    NotificationEvent[UserJoinedPayload]}`. Messages larger than `max_message_bytes`, that are
    not valid JSON objects, name an unknown event or fail validation are dead-lettered at once;
    a handler failure is retried `handler_attempts` times with backoff, then dead-lettered.
    With an `inbox`, a message whose event id was already handled by `consumer_name` is
    reported as a duplicate and not handled again.
    """

    def __init__(
        self,
        mediator: IEventMediator,
        event_types: Mapping[str, type],
        *,
        max_message_bytes: int = 1024 * 1024,
        handler_attempts: int = 3,
        backoff: ExponentialBackoff | None = None,
        serializer: Serializer | EventSerializer | None = None,
        inbox: Inbox[Any] | None = None,
        consumer_name: str = "default",
    ) -> None:
        if handler_attempts < 1:
            raise ValueError("handler_attempts must be at least 1")
        self.mediator = mediator
        self.event_types = dict(event_types)
        self.max_message_bytes = max_message_bytes
        self.handler_attempts = handler_attempts
        self.backoff = backoff or ExponentialBackoff(base=0.2, cap=5.0)
        self.serializer: Serializer | EventSerializer = serializer or JsonSerializer()
        self.inbox = inbox
        self.consumer_name = consumer_name

    def decode(self, message: Message) -> Any:
        """The event `message` carries; raises `ValueError` saying what is wrong with it."""
        if len(message.payload) > self.max_message_bytes:
            raise ValueError(
                f"message of {len(message.payload)} bytes exceeds the limit of "
                f"{self.max_message_bytes} bytes"
            )
        if hasattr(self.serializer, "loads_event"):
            return self._decode_event(message, self.serializer)  # type: ignore[arg-type]
        try:
            data = self.serializer.loads(message.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"payload is not valid {self.serializer.content_type}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"payload must be an object, got {type(data).__name__}")
        name = message.message_name or data.get("event_name")
        event_type = self._event_type(name)
        try:
            return event_type.from_dict(data)  # type: ignore[attr-defined]
        except (ModelValidationError, ValueError, TypeError) as exc:
            raise ValueError(f"invalid {name}: {exc}") from exc

    def _decode_event(self, message: Message, serializer: EventSerializer) -> Any:
        event_type = self._event_type(message.message_name)
        try:
            return serializer.loads_event(message.payload, event_type)
        except Exception as exc:
            raise ValueError(
                f"invalid {message.message_name} ({serializer.content_type}): {exc}"
            ) from exc

    def _event_type(self, name: Any) -> type:
        if not isinstance(name, str) or not name:
            raise ValueError("message names no event (no event-type header, no event_name field)")
        event_type = self.event_types.get(name)
        if event_type is None:
            known = ", ".join(sorted(self.event_types)) or "none"
            raise ValueError(f"unknown event {name!r}; this consumer handles: {known}")
        return event_type

    async def dispatch(self, message: Message) -> Outcome:
        """Handle `message`; never raises except on cancellation."""
        try:
            event = self.decode(message)
        except ValueError as exc:
            _log.warning(
                "dead-lettering message %s from %r: %s", message.message_id, message.topic, exc
            )
            return Outcome(Verdict.DEAD_LETTER, str(exc))
        for attempt in range(1, self.handler_attempts + 1):
            try:
                if await self._handle(event):
                    return Outcome(Verdict.HANDLED)
                return Outcome(Verdict.DUPLICATE)
            except Exception as exc:
                reason = f"handler failed after {attempt} attempt(s): {type(exc).__name__}: {exc}"
                if attempt == self.handler_attempts:
                    _log.error("dead-lettering %s: %s", message.message_id, reason)
                    return Outcome(Verdict.DEAD_LETTER, reason[:2000])
                _log.warning("retrying %s: %s", message.message_id, reason)
                await asyncio.sleep(self.backoff.delay(attempt))
        raise AssertionError("unreachable")

    async def _handle(self, event: Any) -> bool:
        if self.inbox is None:
            await self.mediator.send(event)
            return True
        async with self.inbox as session:
            event_id = getattr(event, "event_id", None)
            if event_id is None:
                raise ValueError("an inbox needs events with an event_id")
            if not await self.inbox.record(session, event_id, consumer=self.consumer_name):
                return False
            token = _inbox_session.set(session)
            try:
                await self.mediator.send(event)
            finally:
                _inbox_session.reset(token)
            await self.inbox.commit(session)
        return True
