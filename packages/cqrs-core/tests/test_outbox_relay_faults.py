"""The relay tells destination faults from message faults (memory outbox, scripted brokers).

An unavailable broker, topic or database never charges a row nor dead-letters it; a message
the broker refuses for a fault of its own is charged, and nothing else in its batch is; nothing
accepted is sent twice.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

import cqrs
from cqrs.brokers.message import Message
from cqrs.exceptions import DestinationUnavailableError, MessageRejectedError, PublishBatchError
from cqrs.outbox import ExponentialBackoff, OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.outbox.relay import BROKER

FAST = ExponentialBackoff(base=0.01, cap=0.02, jitter=False)


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None, topic: str = "t") -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic=topic, payload=Payload(n=n), partition_key=key
    )


def number(message: Message) -> int:
    n: int = json.loads(message.payload)["payload"]["n"]
    return n


async def write(outbox: MemoryOutboxedEventRepository, events: list[Any]) -> None:
    async with outbox as session:
        for item in events:
            outbox.add(session, item)
        await outbox.commit(session)


class OutageBroker:
    """Raises `error()` for every send while `down` (or for its `down_topics`), else accepts."""

    def __init__(self, *, batch: bool) -> None:
        self.down = False
        self.down_topics: set[str] = set()
        self.error: Callable[[str], Exception] = lambda topic: ConnectionRefusedError(
            "connection refused"
        )
        self.accepted: list[Message] = []
        self.calls = 0
        if batch:
            self.send_many = self._send_many

    async def send_message(self, message: Message) -> None:
        await asyncio.sleep(0)
        self.calls += 1
        if self.down or message.topic in self.down_topics:
            raise self.error(message.topic)
        self.accepted.append(message)

    async def _send_many(self, messages: list[Message]) -> None:
        await asyncio.sleep(0)
        self.calls += 1
        if self.down:
            raise self.error("")
        failed = [(m, self.error(m.topic)) for m in messages if m.topic in self.down_topics]
        delivered = [m for m in messages if m.topic not in self.down_topics]
        self.accepted.extend(delivered)
        if failed:
            raise PublishBatchError(delivered, list(failed))


def per_key(messages: list[Message]) -> dict[str | None, list[int]]:
    seen: dict[str | None, list[int]] = collections.defaultdict(list)
    for message in messages:
        seen[message.key].append(number(message))
    return seen


async def run_until(relay: OutboxRelay, done: Callable[[], bool], timeout: float = 20) -> None:
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        relay.stop()
        await task


@pytest.mark.parametrize("batch", [True, False], ids=["send_many", "send_message"])
async def test_a_broker_outage_charges_nothing_and_everything_arrives_in_order_after_it(
    batch: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: each failure counted an attempt; after max_attempts the rows were dead."""
    outbox = MemoryOutboxedEventRepository()
    broker = OutageBroker(batch=batch)
    broker.down = True
    await write(outbox, [event(n, f"k{n % 7}") for n in range(60)])
    relay = OutboxRelay(
        outbox,
        broker,
        batch_size=20,
        max_attempts=2,
        backoff=FAST,
        destination_backoff=ExponentialBackoff(base=0.01, cap=0.05),
        poll_interval=0.005,
    )
    caplog.set_level(logging.INFO, logger="cqrs.outbox.relay")
    task = asyncio.create_task(relay.run())
    async with asyncio.timeout(10):
        while broker.calls < 6:  # several failed tries, more than max_attempts
            await asyncio.sleep(0.005)
    assert [o.scope for o in relay.outages] == [BROKER]
    stats = await outbox.stats()
    assert stats.dead == 0
    assert stats.pending == 60
    rows = await outbox.claim(worker_id="peek", batch_size=100, lease_seconds=0.001)
    assert all(row.attempts == 0 for row in rows), "an outage charges no attempt"
    await asyncio.sleep(0.01)
    broker.down = False
    async with asyncio.timeout(10):
        while len(broker.accepted) < 60:
            await asyncio.sleep(0.005)
    relay.stop()
    counters = await task
    assert counters.dead_lettered == 0
    assert counters.retried == 0
    assert counters.deferred > 0
    assert counters.outages == 1
    assert relay.outages == []
    assert sorted(number(m) for m in broker.accepted) == list(range(60))
    for key, numbers in per_key(broker.accepted).items():
        assert numbers == sorted(numbers), f"key {key} out of order"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1, "one line when the outage starts"
    assert sum("available again" in m for m in messages) == 1, "one line when it ends"


@pytest.mark.parametrize("batch", [True, False], ids=["send_many", "send_message"])
async def test_an_unavailable_topic_waits_while_other_topics_flow(batch: bool) -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = OutageBroker(batch=batch)
    broker.down_topics = {"unbound"}
    broker.error = lambda topic: DestinationUnavailableError("no queue bound", topic=topic)
    events = [event(n, f"k{n % 3}", "unbound" if n % 2 else "bound") for n in range(30)]
    await write(outbox, events)
    relay = OutboxRelay(
        outbox,
        broker,
        batch_size=50,
        max_attempts=1,
        destination_backoff=ExponentialBackoff(base=0.05, cap=0.1),
        poll_interval=0.005,
    )
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(10):
            while True:
                await asyncio.sleep(0.01)
                scopes = [o.scope for o in relay.outages]
                stats = await outbox.stats()
                if scopes == ["unbound"] and relay.counters.deferred >= 10:
                    break
        assert {m.topic for m in broker.accepted} == {"bound"}
        # A key's later rows wait behind its held-back row, whatever their topic.
        for key, numbers in per_key(broker.accepted).items():
            assert numbers == sorted(numbers), f"key {key} out of order"
        assert stats.dead == 0
        broker.down_topics.clear()
        async with asyncio.timeout(10):
            while len(broker.accepted) < 30:
                await asyncio.sleep(0.005)
    finally:
        relay.stop()
        counters = await task
    assert counters.dead_lettered == counters.retried == 0
    assert sorted(number(m) for m in broker.accepted) == list(range(30))
    for key, numbers in per_key(broker.accepted).items():
        assert numbers == sorted(numbers), f"key {key} out of order"


async def test_a_poison_row_is_charged_alone_and_nothing_is_sent_twice() -> None:
    """Before: a failed batch was re-sent one by one (every delivered row again), and every
    row of the call was charged with the poison's error."""
    outbox = MemoryOutboxedEventRepository()
    sends: collections.Counter[int] = collections.Counter()

    class PoisonAware:
        async def send_many(self, messages: list[Message]) -> None:
            for message in messages:
                sends[number(message)] += 1
            failed = [(m, MessageRejectedError("too large")) for m in messages if number(m) == 5]
            if failed:
                delivered = [m for m in messages if number(m) != 5]
                raise PublishBatchError(delivered, list(failed))

        async def send_message(self, message: Message) -> None:
            await self.send_many([message])

    await write(outbox, [event(n, f"k{n % 4}") for n in range(40)])
    relay = OutboxRelay(outbox, PoisonAware(), batch_size=100, max_attempts=1)
    await relay.run_once()
    assert relay.counters.dead_lettered == 1
    dead = await outbox.dead_letters()
    assert [json.loads(row.payload)["payload"]["n"] for row in dead] == [5]
    assert "too large" in (dead[0].last_error or "")
    assert max(sends.values()) == 1, "nothing was published twice"
    behind = [n for n in range(40) if n % 4 == 1 and n > 5]
    assert not set(behind) & set(sends), "the poison's key waits behind it"
    assert relay.counters.published == 40 - 1 - len(behind)


async def test_an_unavailable_database_is_one_logged_state_not_a_traceback_per_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: every failing round logged a traceback (~1,800 lines in 4 s)."""
    inner = MemoryOutboxedEventRepository()
    await write(inner, [event(n, None) for n in range(5)])
    failures = {"left": 8}

    class FlakyDatabase:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        async def claim(self, **kwargs: Any) -> Any:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise ConnectionResetError("server closed the connection unexpectedly")
            return await inner.claim(**kwargs)

    broker = cqrs.MemoryMessageBroker()
    relay = OutboxRelay(
        FlakyDatabase(),  # type: ignore[arg-type]
        broker,
        destination_backoff=ExponentialBackoff(base=0.005, cap=0.01),
        poll_interval=0.005,
    )
    caplog.set_level(logging.DEBUG, logger="cqrs.outbox.relay")
    await run_until(relay, lambda: len(broker.messages.get("t", [])) == 5)
    assert relay.counters.errors == 0
    assert relay.counters.outages == 1
    assert relay.outages == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.exc_info for r in warnings] == [None, None], "no traceback"
    assert "database unavailable" in warnings[0].getMessage()
    assert "available again" in warnings[1].getMessage()


async def test_a_broker_that_never_confirms_is_an_outage_not_a_message_fault() -> None:
    outbox = MemoryOutboxedEventRepository()
    release = asyncio.Event()

    class Hanging:
        async def send_many(self, messages: list[Message]) -> None:
            await release.wait()

        async def send_message(self, message: Message) -> None:
            await release.wait()

    await write(outbox, [event(n, "k") for n in range(3)])
    relay = OutboxRelay(outbox, Hanging(), lease_seconds=0.3, max_attempts=1)
    await relay.run_once()
    assert [o.scope for o in relay.outages] == [BROKER]
    assert relay.counters.dead_lettered == relay.counters.retried == 0
    assert relay.counters.deferred == 3
    stats = await outbox.stats()
    assert (stats.pending, stats.dead, stats.delayed) == (3, 0, 3)


async def test_error_text_stored_with_a_row_has_no_password() -> None:
    outbox = MemoryOutboxedEventRepository()

    class Leaky:
        async def send_message(self, message: Message) -> None:
            raise MessageRejectedError("refused by amqp://app:hunter2@mq.internal/")

    await write(outbox, [event(0, None)])
    relay = OutboxRelay(outbox, Leaky(), max_attempts=1)
    await relay.run_once()
    (dead,) = await outbox.dead_letters()
    assert "hunter2" not in (dead.last_error or "")
    assert "amqp://app:***@mq.internal/" in (dead.last_error or "")


def test_a_long_outage_keeps_its_backoff_at_the_cap() -> None:
    """Before: `factor ** attempts` overflowed a float past ~1000 failures (OverflowError)."""
    backoff = ExponentialBackoff(base=0.5, cap=30.0, jitter=False)
    assert backoff.delay(5000) == 30.0
    assert 0 <= ExponentialBackoff(base=0.5, cap=30.0).delay(10**6) <= 30.0


@pytest.mark.parametrize("batch", [True, False], ids=["send_many", "send_message"])
async def test_a_refused_batch_is_one_failed_try_of_its_destination(
    batch: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: every row of a batch refused for an unavailable topic counted as a failed try,
    so one batch of 500 pushed the outage's backoff to its cap at once, and a few rounds
    overflowed it: each later round failed with an OverflowError traceback."""
    outbox = MemoryOutboxedEventRepository()
    broker = OutageBroker(batch=batch)
    broker.down_topics = {"unbound"}
    broker.error = lambda topic: DestinationUnavailableError("no queue bound", topic=topic)
    await write(outbox, [event(n, f"k{n}", "unbound") for n in range(400)])
    relay = OutboxRelay(
        outbox,
        broker,
        batch_size=400,
        destination_backoff=ExponentialBackoff(base=0.001, cap=0.002),
        poll_interval=0.001,
    )
    caplog.set_level(logging.ERROR, logger="cqrs.outbox.relay")
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(10):
            while relay.counters.deferred < 400 * 4:
                await asyncio.sleep(0.005)
        (outage,) = relay.outages
        rounds = relay.counters.deferred // 400
        assert outage.failures <= rounds + 1, f"{outage.failures} tries in {rounds} rounds"
    finally:
        relay.stop()
        counters = await task
    assert counters.errors == 0, [r.getMessage() for r in caplog.records]
    assert counters.dead_lettered == counters.retried == 0
