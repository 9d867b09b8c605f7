"""An in-memory `ConsumerTransport`: a queue of records in process memory, for tests.

It behaves like a broker queue towards the runner: records come in publish order, an
unacknowledged record goes back to the front of the queue when the transport closes (a stop,
a crash), dead letters are kept with their reason, and faults can be injected::

    transport = MemoryConsumerTransport()
    transport.publish(cqrs.Message.from_event(event))
    runner = ConsumerRunner(transport, dispatcher)
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
from collections.abc import Sequence

from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.consumers.transport import ConsumerControl, Delivery

__all__ = ["MemoryConsumerTransport", "MemoryRecord"]

_counter = itertools.count()


@dataclasses.dataclass(frozen=True, slots=True)
class MemoryRecord:
    """A published message as the queue holds it: topic, payload and text headers."""

    topic: str
    payload: bytes
    headers: dict[str, str]
    offset: int = dataclasses.field(default_factory=lambda: next(_counter))


class MemoryConsumerTransport:
    """A queue of `MemoryRecord`s consumed by one runner at a time; reusable after `close()`.

    `acked` and `dead_letters` record what the runner did; `connect_error`, `receive_errors`,
    `ack_errors` and `dead_letter_errors` are raised (first in, first out) by the next calls.
    A record's ordering key is its `event-key` header, else its topic.
    """

    def __init__(self, messages: Sequence[Message] = (), *, name: str = "memory") -> None:
        self.name = name
        self.acked: list[MemoryRecord] = []
        self.dead_letters: list[tuple[MemoryRecord, str]] = []
        self.connect_error: BaseException | None = None
        self.receive_errors: list[BaseException] = []
        self.ack_errors: list[BaseException] = []
        self.dead_letter_errors: list[BaseException] = []
        self.connected = False
        self._queue: collections.deque[MemoryRecord] = collections.deque()
        self._unacked: dict[int, MemoryRecord] = {}
        self._arrived = asyncio.Event()
        self.publish(*messages)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def publish(self, *messages: Message) -> None:
        """Append `messages` to the queue with the headers a broker would carry."""
        for message in messages:
            self.publish_raw(message.topic, message.payload, message.headers())

    def publish_raw(self, topic: str, payload: bytes, headers: dict[str, str]) -> None:
        """Append a record as given (hostile headers included)."""
        self._queue.append(MemoryRecord(topic, payload, dict(headers)))
        self._arrived.set()

    @property
    def pending(self) -> int:
        """Records waiting in the queue or delivered and not acknowledged."""
        return len(self._queue) + len(self._unacked)

    async def connect(self, control: ConsumerControl) -> None:
        if self.connect_error is not None:
            raise self.connect_error
        self.connected = True

    async def receive(self, limit: int) -> Sequence[Delivery[MemoryRecord]]:
        if self.receive_errors:
            raise self.receive_errors.pop(0)
        if not self._queue:
            self._arrived.clear()
            try:
                async with asyncio.timeout(1.0):
                    await self._arrived.wait()
            except TimeoutError:
                return []
        taken: list[Delivery[MemoryRecord]] = []
        while self._queue and len(taken) < limit:
            record = self._queue.popleft()
            self._unacked[record.offset] = record
            taken.append(Delivery(record, record.headers.get(HEADER_NAMES["key"]) or record.topic))
        return taken

    def message(self, raw: MemoryRecord) -> Message:
        return Message.from_headers(raw.topic, raw.payload, raw.headers)

    async def ack(self, delivery: Delivery[MemoryRecord]) -> None:
        if self.ack_errors:
            raise self.ack_errors.pop(0)
        record = self._unacked.pop(delivery.raw.offset, None)
        if record is None:
            raise LookupError(f"{self.describe(delivery)} is not unacknowledged here")
        self.acked.append(record)

    async def dead_letter(
        self, delivery: Delivery[MemoryRecord], reason: str, *, truncate: bool
    ) -> bool:
        if self.dead_letter_errors:
            raise self.dead_letter_errors.pop(0)
        self.dead_letters.append((delivery.raw, reason))
        return truncate

    async def close(self) -> None:
        """Put the unacknowledged records back at the front of the queue, in order."""
        self.connected = False
        returned = sorted(self._unacked.values(), key=lambda record: record.offset)
        self._unacked.clear()
        self._queue.extendleft(reversed(returned))
        if self._queue:
            self._arrived.set()

    def describe(self, delivery: Delivery[MemoryRecord]) -> str:
        return f"{delivery.raw.topic}@{delivery.raw.offset}"
