"""`OutboxRelay.run_until_idle`: two batches in flight; claims and settles overlap publishing."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

import cqrs
from cqrs.brokers.message import Message
from cqrs.exceptions import MessageRejectedError
from cqrs.outbox import ExponentialBackoff, OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.outbox.protocol import OutboxedEvent

FAST = ExponentialBackoff(base=0.01, cap=0.02, jitter=False)


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic="t", payload=Payload(n=n), partition_key=key
    )


def number(message: Message | OutboxedEvent) -> int:
    n: int = json.loads(message.payload)["payload"]["n"]
    return n


async def write(outbox: MemoryOutboxedEventRepository, events: list[Any]) -> None:
    async with outbox as session:
        for item in events:
            outbox.add(session, item)
        await outbox.commit(session)


class RecordingOutbox(MemoryOutboxedEventRepository):
    """Logs claims and settlements, so a test can see what ran while a batch was in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, list[int]]] = []
        self.claimed = asyncio.Condition()
        self.fail_mark_failed = False

    async def claim(
        self, *, worker_id: str, batch_size: int, lease_seconds: float
    ) -> list[OutboxedEvent]:
        rows = await super().claim(
            worker_id=worker_id, batch_size=batch_size, lease_seconds=lease_seconds
        )
        self.log.append(("claim", [number(r) for r in rows]))
        async with self.claimed:
            self.claimed.notify_all()
        return rows

    async def mark_published(self, events: Sequence[OutboxedEvent], *, worker_id: str) -> int:
        self.log.append(("published", [number(r) for r in events]))
        return await super().mark_published(events, worker_id=worker_id)

    async def release(self, events: Sequence[OutboxedEvent], *, worker_id: str) -> None:
        self.log.append(("released", [number(r) for r in events]))
        await super().release(events, worker_id=worker_id)

    async def mark_failed(self, event: OutboxedEvent, **kwargs: Any) -> Any:
        if self.fail_mark_failed:
            raise RuntimeError("database gone")
        return await super().mark_failed(event, **kwargs)

    async def claims(self, count: int) -> None:
        """Wait until `count` claims were made."""
        async with asyncio.timeout(5), self.claimed:
            await self.claimed.wait_for(lambda: self.claimed_count() >= count)

    def claimed_count(self) -> int:
        return sum(1 for kind, _ in self.log if kind == "claim")


class GatedBroker:
    """A `send_many` broker whose calls wait for `gate`; refuses the numbers in `refuse`."""

    def __init__(self, refuse: set[int] | None = None) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.refuse = set(refuse or ())
        self.accepted: list[Message] = []
        self.at_gate = 0

    async def send_many(self, messages: list[Message]) -> None:
        self.at_gate += 1
        await self.gate.wait()
        refused = [m for m in messages if number(m) in self.refuse]
        self.accepted.extend(m for m in messages if number(m) not in self.refuse)
        if refused:
            raise MessageRejectedError(f"refused {[number(m) for m in refused]}")

    async def send_message(self, message: Message) -> None:
        await self.send_many([message])


def keys_of(messages: list[Message]) -> dict[str | None, list[int]]:
    """Per key, the numbers in the order each was first delivered (duplicates dropped)."""
    seen: set[int] = set()
    order: dict[str | None, list[int]] = defaultdict(list)
    for message in messages:
        if number(message) not in seen:
            seen.add(number(message))
            order[message.key].append(number(message))
    return order


async def test_the_next_batch_is_claimed_while_one_is_published_without_its_keys() -> None:
    outbox = RecordingOutbox()
    broker = GatedBroker()
    # Rows 0-3 hold keys k0-k3 once each; rows 4-7 repeat k0-k1 and bring k4-k5.
    await write(outbox, [event(n, f"k{n % 4}" if n < 6 else f"k{n - 2}") for n in range(8)])
    relay = OutboxRelay(outbox, broker, batch_size=4)
    broker.gate.clear()
    running = asyncio.ensure_future(relay.run_until_idle())
    await outbox.claims(2)
    assert broker.accepted == [], "the first batch is still being published"
    assert outbox.log[:2] == [("claim", [0, 1, 2, 3]), ("claim", [6, 7])]
    broker.gate.set()
    assert await running == 8
    assert sorted(number(m) for m in broker.accepted) == list(range(8))
    assert keys_of(broker.accepted)["k0"] == [0, 4]
    assert keys_of(broker.accepted)["k1"] == [1, 5]
    assert (await outbox.stats()).pending == 0


async def test_a_batch_is_settled_while_the_next_one_is_published() -> None:
    outbox = RecordingOutbox()
    broker = GatedBroker()
    await write(outbox, [event(n, f"k{n}") for n in range(6)])
    relay = OutboxRelay(outbox, broker, batch_size=2)
    calls = 0

    async def send_many(messages: list[Message]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # batch 2 goes out only once batch 1 was settled: they overlap
            async with asyncio.timeout(5):
                while ("published", [0, 1]) not in outbox.log:
                    await asyncio.sleep(0)
        await GatedBroker.send_many(broker, messages)

    broker.send_many = send_many  # type: ignore[method-assign]
    assert await relay.run_until_idle() == 6
    assert relay.counters.published == 6
    assert outbox.log == [
        ("claim", [0, 1]),
        ("claim", [2, 3]),  # while batch 1 is published
        ("published", [0, 1]),  # while batch 2 is published
        ("claim", [4, 5]),
        ("published", [2, 3]),
        ("claim", []),
        ("published", [4, 5]),
        ("claim", []),
    ]


async def test_stopping_finishes_the_batches_in_flight_and_claims_no_more() -> None:
    outbox = RecordingOutbox()
    broker = GatedBroker()
    await write(outbox, [event(n, f"k{n}") for n in range(12)])
    relay = OutboxRelay(outbox, broker, batch_size=4)
    broker.gate.clear()
    running = asyncio.ensure_future(relay.run_until_idle())
    async with asyncio.timeout(5):
        while broker.at_gate < 2:
            await asyncio.sleep(0)
    assert broker.accepted == [], "both batches wait for the broker together"
    relay.stop()
    broker.gate.set()
    assert await running == 8
    assert sorted(number(m) for m in broker.accepted) == list(range(8))
    assert outbox.claimed_count() == 2
    assert relay.counters.published == 8
    rows = await outbox.claim(worker_id="other", batch_size=10, lease_seconds=5)
    assert [number(r) for r in rows] == [8, 9, 10, 11]


async def test_a_batch_not_yet_sent_when_stop_comes_is_released() -> None:
    outbox = RecordingOutbox()
    await write(outbox, [event(n, f"k{n}") for n in range(8)])
    broker = GatedBroker()
    relay = OutboxRelay(outbox, broker, batch_size=4)
    stopped = False

    async def send_many(messages: list[Message]) -> None:
        nonlocal stopped
        if not stopped:  # the first batch's call stops the relay before the second is sent
            stopped = True
            relay.stop()
            await asyncio.sleep(0.01)
        await GatedBroker.send_many(broker, messages)

    broker.send_many = send_many  # type: ignore[method-assign]
    assert await relay.run_until_idle() == 8
    assert sorted(number(m) for m in broker.accepted) == [0, 1, 2, 3]
    assert ("released", [4, 5, 6, 7]) in outbox.log
    assert relay.counters.released == 4
    # Released, not leased: another worker takes them at once.
    rows = await outbox.claim(worker_id="other", batch_size=10, lease_seconds=5)
    assert [number(r) for r in rows] == [4, 5, 6, 7]


async def test_a_refused_row_keeps_its_key_in_order_across_pipelined_batches() -> None:
    outbox = RecordingOutbox()
    broker = GatedBroker(refuse={23})
    await write(outbox, [event(n, f"k{n % 3}") for n in range(30)])
    relay = OutboxRelay(outbox, broker, batch_size=4, backoff=FAST, max_attempts=1000)
    behind = [26, 29]  # the rows of key k2 after 23
    async with asyncio.timeout(10):
        while relay.counters.published < 30 - 1 - len(behind) or relay.counters.retried < 2:
            await relay.run_until_idle()
            await asyncio.sleep(0.005)
        assert not {number(m) for m in broker.accepted} & {23, *behind}
        broker.refuse.clear()
        while relay.counters.published < 30:
            await relay.run_until_idle()
            await asyncio.sleep(0.005)
    order = keys_of(broker.accepted)
    assert order["k2"] == list(range(2, 30, 3)), "rows behind 23 waited for it"
    assert order["k0"] == list(range(0, 30, 3))
    assert order["k1"] == list(range(1, 30, 3))
    assert (await outbox.stats()).pending == 0


async def test_many_pipelined_relays_publish_every_row_once_in_key_order() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = GatedBroker()
    await write(outbox, [event(n, f"k{n % 7}" if n % 5 else None) for n in range(400)])
    relays = [OutboxRelay(outbox, broker, batch_size=13, worker_id=f"w{i}") for i in range(3)]

    async def drain(relay: OutboxRelay) -> None:
        while len(broker.accepted) < 400:
            if not await relay.run_until_idle():
                await asyncio.sleep(0.001)

    async with asyncio.timeout(20):
        await asyncio.gather(*(drain(relay) for relay in relays))
    assert sorted(number(m) for m in broker.accepted) == list(range(400))
    for key, numbers in keys_of(broker.accepted).items():
        if key is not None:
            assert numbers == sorted(numbers), f"key {key} out of order"
    assert sum(r.counters.published for r in relays) == 400


async def test_a_failing_round_still_settles_the_batch_in_flight_beside_it() -> None:
    outbox = RecordingOutbox()
    broker = GatedBroker(refuse={1})
    await write(outbox, [event(n, f"k{n}") for n in range(8)])
    outbox.fail_mark_failed = True
    relay = OutboxRelay(outbox, broker, batch_size=4)
    with pytest.raises(RuntimeError, match="database gone"):
        await relay.run_until_idle()
    assert ("claim", [4, 5, 6, 7]) in outbox.log
    assert ("published", [4, 5, 6, 7]) in outbox.log
    rows = await outbox.claim(worker_id="other", batch_size=10, lease_seconds=5)
    assert rows == [], "rows 0-3 stay leased to the failed round; 4-7 are settled"
    assert (await outbox.stats()).pending == 4


async def test_run_uses_the_pipeline_and_stops_cleanly() -> None:
    outbox = RecordingOutbox()
    broker = GatedBroker()
    await write(outbox, [event(n, f"k{n % 10}") for n in range(50)])
    relay = OutboxRelay(outbox, broker, batch_size=10, poll_interval=0.01)
    task = asyncio.ensure_future(relay.run())
    async with asyncio.timeout(5):
        while relay.counters.published < 50:
            await asyncio.sleep(0.005)
    relay.stop()
    counters = await asyncio.wait_for(task, 5)
    assert counters.published == 50
    assert counters.released == 0
    assert (await outbox.stats()).pending == 0
