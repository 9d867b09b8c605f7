"""Capture of what an application published, through any broker, to assert on it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from cqrs.brokers.message import Message
from cqrs.interception.interceptor import Interceptor, PublishCall

__all__ = ["Published", "PublishRecorder"]


@dataclasses.dataclass(frozen=True, slots=True)
class Published:
    """What matters of one published message: its topic, event name and partition key."""

    topic: str
    event: str
    key: str | None = None


class PublishRecorder(Interceptor):
    """An interceptor keeping every message a broker accepted, in publish order.

    It sits on the publish path (`intercept_publish`) rather than inside a broker, so it sees
    the same messages whether the broker is in memory or RabbitMQ/Kafka, and whether they went
    out directly from a handler or through the outbox relay. A publish that fails is not kept.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def intercept_publish(
        self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
    ) -> None:
        await proceed(call)
        self.messages.extend(call.messages)

    def summary(self) -> list[Published]:
        """Each kept message as `Published(topic, event, key)`, in publish order."""
        return [Published(m.topic, m.message_name, m.key) for m in self.messages]

    def payloads(self, topic: str | None = None) -> list[Any]:
        """The decoded JSON payloads of the kept messages (of one topic, if given)."""
        return [json.loads(m.payload) for m in self.messages if topic is None or m.topic == topic]

    def assert_published(self, expected: Iterable[Published | tuple[Any, ...]]) -> None:
        """Assert that exactly `expected` was published, in this order.

        Each item is a `Published` or a `(topic, event, key)` tuple; the assertion message shows
        both lists.
        """
        wanted = [item if isinstance(item, Published) else Published(*item) for item in expected]
        got = self.summary()
        if got != wanted:
            raise AssertionError(f"published {_show(got)}, expected {_show(wanted)}")

    def clear(self) -> None:
        """Forget what was kept so far (e.g. after the arrange part of a test)."""
        self.messages.clear()


def _show(items: Sequence[Published]) -> str:
    return "[" + ", ".join(f"({p.topic!r}, {p.event!r}, {p.key!r})" for p in items) + "]"
