"""The relay over a broker with `send_many`: pipelined waves, key order, failure fallback."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import cqrs
from cqrs.brokers.message import Message
from cqrs.exceptions import MessageRejectedError
from cqrs.outbox import ExponentialBackoff, OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository

FAST = ExponentialBackoff(base=0.01, cap=0.02, jitter=False)


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic="t", payload=Payload(n=n), partition_key=key
    )


def number(message: Message) -> int:
    n: int = json.loads(message.payload)["payload"]["n"]
    return n


class BatchBroker:
    """A call holding a refused number delivers the others and raises; `send_message` counts down
    the refusals, so a number is refused by every call until its single sends used them up."""

    def __init__(self, refuse: dict[int, int] | None = None) -> None:
        self.refuse = dict(refuse or {})
        self.accepted: list[Message] = []
        self.calls: list[list[int]] = []
        self.singles = 0

    def _refused(self, n: int) -> bool:
        if self.refuse.get(n, 0) > 0:
            self.refuse[n] -= 1
            return True
        return False

    async def send_many(self, messages: list[Message]) -> None:
        await asyncio.sleep(0)
        self.calls.append([number(m) for m in messages])
        refused = [m for m in messages if self.refuse.get(number(m), 0) > 0]
        self.accepted.extend(m for m in messages if m not in refused)
        if refused:
            raise MessageRejectedError(f"refused {[number(m) for m in refused]}")

    async def send_message(self, message: Message) -> None:
        await asyncio.sleep(0)
        self.singles += 1
        if self._refused(number(message)):
            raise MessageRejectedError(f"refused {number(message)}")
        self.accepted.append(message)


async def write(outbox: MemoryOutboxedEventRepository, events: list[Any]) -> None:
    async with outbox as session:
        for item in events:
            outbox.add(session, item)
        await outbox.commit(session)


def first_time_order(messages: list[Message]) -> dict[str | None, list[int]]:
    """Per key, the numbers in the order each was first delivered (duplicates dropped)."""
    seen: set[int] = set()
    order: dict[str | None, list[int]] = defaultdict(list)
    for message in messages:
        n = number(message)
        if n not in seen:
            seen.add(n)
            order[message.key].append(n)
    return order


async def test_a_batch_goes_out_in_waves_of_one_row_per_key() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = BatchBroker()
    await write(outbox, [event(n, f"k{n % 3}" if n < 9 else None) for n in range(12)])
    relay = OutboxRelay(outbox, broker, batch_size=100, max_in_flight=4)
    assert await relay.run_once() == 12
    assert relay.counters.published == 12
    assert broker.singles == 0
    # Wave 1: the first row of k0, k1, k2 and the three keyless rows, split by max_in_flight.
    assert broker.calls == [[0, 1, 2, 9], [10, 11], [3, 4, 5], [6, 7, 8]]
    assert first_time_order(broker.accepted) == {
        "k0": [0, 3, 6],
        "k1": [1, 4, 7],
        "k2": [2, 5, 8],
        None: [9, 10, 11],
    }
    assert (await outbox.stats()).pending == 0


async def test_a_refused_row_is_failed_and_its_later_rows_wait() -> None:
    outbox = MemoryOutboxedEventRepository()
    # 4 fails its pipelined call and the one-by-one retry; the next round accepts it.
    broker = BatchBroker({4: 1})
    await write(outbox, [event(n, f"k{n % 3}") for n in range(9)])
    relay = OutboxRelay(outbox, broker, batch_size=100, backoff=FAST)
    await relay.run_once()
    assert relay.counters.retried == 1
    assert relay.counters.released == 1  # 7, behind 4 on key k1
    assert 7 not in [number(m) for m in broker.accepted]
    for _ in range(100):
        if relay.counters.published == 9:
            break
        await asyncio.sleep(0.005)
        await relay.run_once()
    assert relay.counters.published == 9
    assert first_time_order(broker.accepted) == {
        "k0": [0, 3, 6],
        "k1": [1, 4, 7],
        "k2": [2, 5, 8],
    }
    assert (await outbox.stats()).pending == 0


async def test_rows_left_when_stopping_are_released_unsent() -> None:
    outbox = MemoryOutboxedEventRepository()
    broker = BatchBroker()
    await write(outbox, [event(n, "k") for n in range(5)])
    relay = OutboxRelay(outbox, broker, batch_size=100)
    relay.stop()
    await relay.run_once()
    assert broker.accepted == []
    assert relay.counters.released == 5
    assert (await outbox.stats()).pending == 5
