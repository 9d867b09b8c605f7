"""The outbox relay over the in-memory outbox: ordering, retries, dead letters, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import cqrs
from cqrs.brokers.message import Message
from cqrs.exceptions import MessageRejectedError
from cqrs.outbox import EventProducer, ExponentialBackoff, OutboxRelay, OutboxStatus
from cqrs.outbox.memory import MemoryOutboxedEventRepository

FAST = ExponentialBackoff(base=0.01, cap=0.02, jitter=False)


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic="t", payload=Payload(n=n), partition_key=key
    )


async def write(outbox: MemoryOutboxedEventRepository, events: list[Any]) -> None:
    async with outbox as session:
        for item in events:
            outbox.add(session, item)
        await outbox.commit(session)


def number(message: Message) -> int:
    n: int = json.loads(message.payload)["payload"]["n"]
    return n


class FlakyBroker:
    """Refuses chosen event numbers a given number of times, records what it accepted."""

    def __init__(self, failures: dict[int, int]) -> None:
        self.failures = dict(failures)
        self.accepted: list[Message] = []

    async def send_message(self, message: Message) -> None:
        await asyncio.sleep(0)
        n = number(message)
        if self.failures.get(n, 0) > 0:
            self.failures[n] -= 1
            raise MessageRejectedError(f"refused {n}")
        self.accepted.append(message)


def per_key(messages: list[Message]) -> dict[str | None, list[int]]:
    seen: dict[str | None, list[int]] = defaultdict(list)
    for message in messages:
        seen[message.key].append(number(message))
    return seen


async def drain(*relays: OutboxRelay, until: Callable[[], bool], rounds: int = 400) -> None:
    """Run relay rounds (with short pauses for backoffs) until `until()` holds."""
    for _ in range(rounds):
        await asyncio.gather(*(relay.run_once() for relay in relays))
        if until():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the relays did not get there")


async def test_many_relays_publish_every_event_once_in_key_order() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = cqrs.MemoryMessageBroker()
    await write(outbox, [event(n, f"k{n % 5}") for n in range(300)])
    relays = [OutboxRelay(outbox, broker, batch_size=17, worker_id=f"w{i}") for i in range(4)]
    await drain(*relays, until=lambda: len(broker.messages.get("t", [])) >= 300)
    delivered = broker.messages["t"]
    assert sorted(number(m) for m in delivered) == list(range(300))
    for key, numbers in per_key(delivered).items():
        assert numbers == sorted(numbers), f"key {key} out of order"
    assert sum(r.counters.published for r in relays) == 300


async def test_refused_events_are_retried_without_breaking_key_order() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = FlakyBroker({3: 2, 10: 1})
    await write(outbox, [event(n, "k" if n < 20 else None) for n in range(25)])
    relay = OutboxRelay(outbox, broker, batch_size=8, backoff=FAST)
    await drain(relay, until=lambda: len(broker.accepted) == 25)
    assert per_key(broker.accepted)["k"] == list(range(20))
    assert relay.counters.retried == 3
    assert relay.counters.dead_lettered == 0


async def test_a_poison_event_is_dead_lettered_and_parks_its_key() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = FlakyBroker({1: 1_000})
    await write(outbox, [event(0, "k"), event(1, "k"), event(2, "k"), event(3, "other")])
    relay = OutboxRelay(outbox, broker, max_attempts=3, backoff=FAST)
    await drain(
        relay, until=lambda: relay.counters.dead_lettered == 1 and len(broker.accepted) == 2
    )
    await asyncio.sleep(0.05)
    await relay.run_once()
    assert per_key(broker.accepted) == {"k": [0], "other": [3]}
    assert relay.counters.dead_lettered == 1
    dead = await outbox.dead_letters()
    assert [json.loads(d.payload)["payload"]["n"] for d in dead] == [1]
    assert dead[0].attempts == 3
    assert "refused 1" in (dead[0].last_error or "")
    broker.failures.clear()
    await outbox.replay([dead[0].id])
    await drain(relay, until=lambda: len(broker.accepted) == 4)
    assert per_key(broker.accepted)["k"] == [0, 1, 2]


async def test_run_stops_gracefully_and_reports_counters() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = cqrs.MemoryMessageBroker()
    relay = OutboxRelay(outbox, broker, poll_interval=0.01)
    task = asyncio.create_task(relay.run())
    await write(outbox, [event(n, None) for n in range(10)])
    for _ in range(200):
        if len(broker.messages.get("t", [])) == 10:
            break
        await asyncio.sleep(0.01)
    relay.stop()
    counters = await asyncio.wait_for(task, 5)
    assert counters.published == 10
    assert (await outbox.stats()).pending == 0


async def test_rows_not_reached_before_the_lease_deadline_are_released() -> None:
    outbox = MemoryOutboxedEventRepository()

    class SlowBroker:
        def __init__(self) -> None:
            self.accepted: list[Message] = []

        async def send_message(self, message: Message) -> None:
            await asyncio.sleep(0.05)
            self.accepted.append(message)

    broker = SlowBroker()
    await write(outbox, [event(n, "k") for n in range(10)])
    relay = OutboxRelay(outbox, broker, lease_seconds=0.5)
    await relay.run_once()
    assert 0 < len(broker.accepted) < 10
    assert relay.counters.released == 10 - len(broker.accepted)
    await asyncio.sleep(0.5)
    rows = await outbox.claim(worker_id="other", batch_size=100, lease_seconds=5)
    first_unsettled = json.loads(rows[0].payload)["payload"]["n"]
    assert first_unsettled == relay.counters.published
    assert [json.loads(r.payload)["payload"]["n"] for r in rows] == list(range(first_unsettled, 10))


async def test_event_producer_runs_the_seed_loop() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = FlakyBroker({2: 1})
    producer = EventProducer(broker, outbox, backoff=FAST)
    await write(outbox, [event(n, None) for n in range(4)])
    batches = 0
    async for messages in producer.event_batch_generator(batch_size=10):
        for message in messages:
            await producer.send_message(message)
        await producer.repository.commit()
        batches += 1
        if len(broker.accepted) == 4 or batches > 50:
            break
        await asyncio.sleep(0.03)
    assert sorted(number(m) for m in broker.accepted) == [0, 1, 2, 3]
    assert (await outbox.stats()).pending == 0


async def test_mark_failed_reports_dead_after_max_attempts() -> None:
    outbox = MemoryOutboxedEventRepository()
    await write(outbox, [event(0, None)])
    rows = await outbox.claim(worker_id="w", batch_size=1, lease_seconds=5)
    status = await outbox.mark_failed(rows[0], worker_id="w", error="x", retry_at=None)
    assert status is OutboxStatus.DEAD


class _HeldBackOutbox(MemoryOutboxedEventRepository):
    """Every claim finds nothing; `held_back` says whether other workers hold the keys."""

    def __init__(self, held_back: bool) -> None:
        super().__init__()
        self.held_back = held_back
        self.claims = 0
        self.wake = asyncio.Event()

    async def claim(self, **kwargs: Any) -> list[Any]:
        self.claims += 1
        return []

    @contextlib.asynccontextmanager
    async def wakeups(self) -> AsyncIterator[asyncio.Event]:
        yield self.wake


@pytest.mark.parametrize("held_back", [False, True])
async def test_a_relay_held_back_by_other_relays_backs_off_instead_of_claiming_at_each_commit(
    held_back: bool,
) -> None:
    """Commits free no key another relay holds: while claims report `held_back`, the relay
    waits longer each time (from `max_poll_interval` up) and commits do not wake it."""
    outbox = _HeldBackOutbox(held_back)
    relay = OutboxRelay(
        outbox, cqrs.MemoryMessageBroker(), poll_interval=0.01, max_poll_interval=0.2
    )
    running = asyncio.create_task(relay.run())
    for _ in range(30):  # a commit every 20 ms for 0.6 s
        await asyncio.sleep(0.02)
        outbox.wake.set()
    relay.stop()
    await running
    if held_back:
        assert outbox.claims <= 4, f"{outbox.claims} claims: claims at 0, 0.2 and 0.6 s at most"
    else:
        assert outbox.claims >= 10, f"{outbox.claims} claims: each commit should wake the relay"
