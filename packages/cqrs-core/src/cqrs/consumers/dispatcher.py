"""Broker-neutral handling of one consumed message: decode, validate, deduplicate, dispatch.

Consumer runners of broker adapters (Kafka, RabbitMQ, ...) feed every received message to a
`MessageDispatcher` and act on its `Outcome`: acknowledge/commit on `HANDLED` and `DUPLICATE`,
dead-letter (with `reason`) on `DEAD_LETTER`, leave unacknowledged on `DEFERRED`. Bad input
never raises out of `dispatch`, so the consumer keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import enum
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumers._nesting import json_depth_exceeds
from cqrs.consumers.dead_letter import (
    DEAD_LETTER_PREVIEW_BYTES,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    MAX_REASON_CHARS,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
)
from cqrs.correlation import enter, leave
from cqrs.errors import DestinationUnavailableError
from cqrs.faults import Fault, classify
from cqrs.inbox.protocol import Inbox
from cqrs.interception._chain import Interception
from cqrs.interception.interceptor import Interceptor
from cqrs.protocols.mediators import IEventMediator
from cqrs.protocols.serializer import EventSerializer, Serializer
from cqrs.serializers import JsonSerializer

__all__ = [
    "DEAD_LETTER_PREVIEW_BYTES",
    "DEAD_LETTER_REASON_HEADER",
    "DEAD_LETTER_TRUNCATED_HEADER",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_REASON_CHARS",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "MessageDispatcher",
    "Outcome",
    "Verdict",
    "inbox_session",
]

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
"""Largest payload a dispatcher decodes unless told otherwise (1 MiB, Kafka's default)."""

DEFAULT_MAX_DEPTH = 100
"""Deepest nesting of JSON arrays and objects a dispatcher decodes unless told otherwise (the
recursion limit protobuf's parser uses too)."""

_log = logging.getLogger("cqrs.consumer")
_inbox_session: contextvars.ContextVar[Any] = contextvars.ContextVar("cqrs_inbox_session")

T = TypeVar("T")


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
    DEFERRED = "deferred"
    """The consumer stopped while a destination was unavailable: leave the message
    unacknowledged, so it is delivered again."""


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one message and, for dead letters, the reason."""

    verdict: Verdict
    reason: str | None = None


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _InboxUnavailable(DestinationUnavailableError):
    """The inbox failed: its database is infrastructure, so this never blames the message."""


class MessageDispatcher:
    """Turns consumed messages into events and sends them to an event mediator.

    `event_types` maps each event name (the `event-type` header, else the payload's
    `event_name`) to the model class to rebuild, e.g. `{"UserJoined":
    NotificationEvent[UserJoinedPayload]}`. Messages larger than `max_message_bytes`, nesting
    JSON deeper than `max_depth`, that are not valid JSON objects, name an unknown event or
    fail validation are dead-lettered at once.

    A handler failure is classified by `cqrs.faults.classify`: a message fault (bad data, a
    handler bug) is retried `handler_attempts` times with `backoff`, then dead-lettered; a
    destination fault (a database, broker or service unavailable) and a failure of the inbox to
    open its transaction or record the id are retried with `destination_backoff` for as long as
    they last, holding the message and charging no attempt, and never dead-letter it. With an
    `inbox`, a message whose event id was already handled by `consumer_name` is reported as a
    duplicate and not handled again.
    """

    def __init__(
        self,
        mediator: IEventMediator,
        event_types: Mapping[str, type],
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        handler_attempts: int = 3,
        backoff: ExponentialBackoff | None = None,
        destination_backoff: ExponentialBackoff | None = None,
        serializer: Serializer | EventSerializer | None = None,
        inbox: Inbox[Any] | None = None,
        consumer_name: str = "default",
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        if handler_attempts < 1:
            raise ValueError("handler_attempts must be at least 1")
        if max_message_bytes < 1 or max_depth < 1:
            raise ValueError("max_message_bytes and max_depth must be at least 1")
        self.mediator = mediator
        self.event_types = dict(event_types)
        self.max_message_bytes = max_message_bytes
        self.max_depth = max_depth
        self.handler_attempts = handler_attempts
        self.backoff = backoff or ExponentialBackoff(base=0.2, cap=5.0)
        self.destination_backoff = destination_backoff or ExponentialBackoff(base=0.2, cap=10.0)
        self.serializer: Serializer | EventSerializer = serializer or JsonSerializer()
        self.inbox = inbox
        self.consumer_name = consumer_name
        self._json = "json" in self.serializer.content_type.lower()
        self._unavailable_since: float | None = None
        self._waiting_retries = 0
        self._interception = Interception(interceptors, watcher=self)
        self._intercepted = False
        self._reintercept()

    def _reintercept(self) -> None:
        self._intercepted = bool(self._interception.overriding("intercept_consume"))

    @property
    def destination_unavailable(self) -> bool:
        """Whether a dispatch is waiting out a destination fault right now."""
        return self._unavailable_since is not None

    def decode(self, message: Message) -> Any:
        """The event `message` carries; raises `ValueError` saying what is wrong with it.

        Any failure of decoding (`RecursionError`, `MemoryError` and a serializer's own errors
        included) comes out as that `ValueError`.
        """
        size = len(message.payload)
        if size > self.max_message_bytes:
            raise ValueError(
                f"message of {size} bytes exceeds the limit of {self.max_message_bytes} bytes"
            )
        try:
            return self._decode(message)
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"undecodable message: {_describe(exc)}") from exc

    def _decode(self, message: Message) -> Any:
        if hasattr(self.serializer, "loads_event"):
            return self._decode_event(message, self.serializer)  # type: ignore[arg-type]
        if self._json and json_depth_exceeds(message.payload, self.max_depth):
            raise ValueError(f"JSON nesting exceeds the limit of {self.max_depth} levels")
        try:
            data = self.serializer.loads(message.payload)
        except Exception as exc:
            claimed = message.content_type
            said = (
                f" (the message says {claimed})" if claimed != self.serializer.content_type else ""
            )
            raise ValueError(
                f"payload is not valid {self.serializer.content_type}{said}: {_describe(exc)}"
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(f"payload must be an object, got {type(data).__name__}")
        name = message.message_name or data.get("event_name")
        event_type = self._event_type(name)
        try:
            return event_type.from_dict(data)
        except Exception as exc:
            raise ValueError(f"invalid {name}: {exc}") from exc

    def _decode_event(self, message: Message, serializer: EventSerializer) -> Any:
        event_type = self._event_type(message.message_name)
        try:
            return serializer.loads_event(message.payload, event_type)
        except Exception as exc:
            raise ValueError(
                f"invalid {message.message_name} ({serializer.content_type}): {exc}"
            ) from exc

    def _event_type(self, name: Any) -> type[Any]:
        if not isinstance(name, str) or not name:
            raise ValueError("message names no event (no event-type header, no event_name field)")
        event_type = self.event_types.get(name)
        if event_type is None:
            known = ", ".join(sorted(self.event_types)) or "none"
            raise ValueError(f"unknown event {name[:200]!r}; this consumer handles: {known}")
        return event_type

    async def dispatch_from(
        self,
        convert: Callable[[T], Message],
        received: T,
        *,
        stop: asyncio.Event | None = None,
    ) -> Outcome:
        """Rebuild the message of a transport delivery with `convert(received)` and dispatch it.

        Whatever `convert` raises (unusable headers, a malformed id or timestamp) dead-letters
        the delivery as `invalid message headers: ...`; never raises except on cancellation.
        """
        try:
            message = convert(received)
        except Exception as exc:
            reason = f"invalid message headers: {_describe(exc)}"[:MAX_REASON_CHARS]
            _log.warning("dead-lettering a message: %s", reason)
            return Outcome(Verdict.DEAD_LETTER, reason)
        return await self.dispatch(message, stop=stop)

    async def dispatch(self, message: Message, *, stop: asyncio.Event | None = None) -> Outcome:
        """Handle `message`; never raises except on cancellation.

        While a destination fault is being waited out, setting `stop` (the consumer is
        stopping or losing the partition) ends the wait with a `DEFERRED` outcome. Given
        interceptors wrap it (`intercept_consume`): they see the message and the `Outcome`.
        """
        if not self._intercepted:
            return await self._dispatch(message, stop)

        async def proceed(intercepted: Message) -> Outcome:
            return await self._dispatch(intercepted, stop)

        chain = self._interception.consume(proceed)
        assert chain is not None
        try:
            outcome: Outcome = await chain(message)
        except Exception:
            _log.exception(
                "an interceptor failed on message %s; it is left for redelivery",
                message.message_id,
            )
            return Outcome(Verdict.DEFERRED, "an interceptor failed")
        return outcome

    async def _dispatch(self, message: Message, stop: asyncio.Event | None) -> Outcome:
        try:
            event = self.decode(message)
        except Exception as exc:
            reason = str(exc)[:MAX_REASON_CHARS]
            _log.warning(
                "dead-lettering message %s from %r: %s",
                message.message_id,
                message.topic[:200],
                reason,
            )
            return Outcome(Verdict.DEAD_LETTER, reason)
        attempt = 0
        waits = 0
        while True:
            try:
                handled = await self._handle_in_scope(message, event)
            except Exception as exc:
                fault = Fault.DESTINATION if isinstance(exc, _InboxUnavailable) else classify(exc)
                if fault is Fault.DESTINATION:
                    waits += 1
                    self._destination_down(message, exc)
                    delay = self.destination_backoff.delay(waits)
                else:
                    attempt += 1
                    reason = f"handler failed after {attempt} attempt(s): {_describe(exc)}"
                    if attempt >= self.handler_attempts:
                        _log.error("dead-lettering %s: %s", message.message_id, reason)
                        return Outcome(Verdict.DEAD_LETTER, reason[:MAX_REASON_CHARS])
                    _log.warning("retrying %s: %s", message.message_id, reason)
                    delay = self.backoff.delay(attempt)
                if await _stopped_during(delay, stop):
                    _log.info("leaving message %s to be delivered again", message.message_id)
                    return Outcome(Verdict.DEFERRED)
                continue
            if self._unavailable_since is not None:
                self._destination_up()
            return Outcome(Verdict.HANDLED if handled else Verdict.DUPLICATE)

    def _destination_down(self, message: Message, error: BaseException) -> None:
        """Log the first destination fault of an outage; the retries after it stay quiet."""
        self._waiting_retries += 1
        if self._unavailable_since is not None:
            return
        self._unavailable_since = time.monotonic()
        _log.warning(
            "destination unavailable while handling %s (%s); holding it and retrying "
            "without charging it",
            message.message_id,
            _describe(error),
        )

    def _destination_up(self) -> None:
        since, self._unavailable_since = self._unavailable_since, None
        retries, self._waiting_retries = self._waiting_retries, 0
        assert since is not None
        _log.info(
            "destination available again after %.1f s and %d retries; consuming",
            time.monotonic() - since,
            retries,
        )

    async def _handle_in_scope(self, message: Message, event: Any) -> bool:
        """`_handle` in the message's correlation scope: its headers' ids, which the payload
        may not carry."""
        message_id = str(message.message_id)
        token = enter(message_id, message.correlation_id or message_id)
        try:
            return await self._handle(event)
        finally:
            leave(token)

    async def _handle(self, event: Any) -> bool:
        if self.inbox is None:
            await self.mediator.send(event)
            return True
        event_id = getattr(event, "event_id", None)
        if event_id is None:
            raise ValueError("an inbox needs events with an event_id")
        stage = "inbox"
        try:
            async with self.inbox as session:
                if not await self.inbox.record(session, event_id, consumer=self.consumer_name):
                    return False
                stage = "handler"
                token = _inbox_session.set(session)
                try:
                    await self.mediator.send(event)
                finally:
                    _inbox_session.reset(token)
                stage = "commit"
                await self.inbox.commit(session)
                stage = "inbox"
        except Exception as exc:
            if stage != "inbox":
                raise  # the handler's own writes may be at fault: classify it
            raise _InboxUnavailable(f"inbox failed: {_describe(exc)}") from exc
        return True


async def _stopped_during(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep `seconds`; True (at once) if `stop` is or becomes set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    if stop.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
    return stop.is_set()
