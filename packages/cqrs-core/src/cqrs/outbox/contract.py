"""The contract every outbox repository passes, as a test class to subclass.

A subclass named `Test...` provides an async `outbox` fixture yielding an empty repository::

    class TestMyOutbox(OutboxRepositoryContract):
        @pytest.fixture
        async def outbox(self) -> AsyncIterator[MyOutbox]:
            repository = MyOutbox(...)
            await repository.create_schema()
            yield repository
            await repository.drop_schema()
"""

from __future__ import annotations

import abc
import asyncio
import datetime
import json
from typing import Any

import pytest

from cqrs.events.event import NotificationEvent
from cqrs.outbox.protocol import OutboxedEvent, OutboxStatus
from cqrs.requests.response import Response

__all__ = ["OutboxPayload", "OutboxRepositoryContract"]


class OutboxPayload(Response):
    """The payload of the events the contract writes."""

    n: int


def _event(n: int, key: str | None = None, topic: str = "orders") -> Any:
    return NotificationEvent[OutboxPayload](
        event_name="OrderChanged",
        topic=topic,
        payload=OutboxPayload(n=n),
        partition_key=key,
        correlation_id=f"corr-{n}",
        causation_id=f"cause-{n}",
    )


def _numbers(rows: list[OutboxedEvent]) -> list[int]:
    return [json.loads(row.payload)["payload"]["n"] for row in rows]


def _future(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)


class OutboxRepositoryContract(abc.ABC):
    """Claim, lease, ordering and dead-letter behaviour shared by every outbox repository."""

    lease_seconds: float = 30.0
    short_lease: float = 0.3
    """A lease the tests let expire by sleeping a little longer than it."""

    @pytest.fixture
    @abc.abstractmethod
    async def outbox(self) -> Any:
        """An empty outbox repository."""

    async def write(self, outbox: Any, *events: Any) -> None:
        """Add `events` in one committed transaction."""
        async with outbox as session:
            for event in events:
                outbox.add(session, event)
            await outbox.commit(session)

    async def claim(self, outbox: Any, worker: str, size: int = 100) -> list[OutboxedEvent]:
        return list(
            await outbox.claim(worker_id=worker, batch_size=size, lease_seconds=self.lease_seconds)
        )

    async def test_committed_events_are_claimed_in_write_order(self, outbox: Any) -> None:
        events = [_event(n) for n in range(5)]
        await self.write(outbox, *events)
        rows = await self.claim(outbox, "w1")
        assert _numbers(rows) == [0, 1, 2, 3, 4]
        assert [row.id for row in rows] == sorted(row.id for row in rows)
        first = rows[0]
        assert first.event_id == events[0].event_id
        assert first.event_name == "OrderChanged"
        assert first.topic == "orders"
        assert first.correlation_id == "corr-0"
        assert first.causation_id == "cause-0"
        assert first.attempts == 0
        rebuilt = NotificationEvent[OutboxPayload].from_dict(json.loads(first.payload))
        assert rebuilt == events[0]
        message = first.to_message()
        assert message.message_id == events[0].event_id
        assert message.topic == "orders"

    async def test_rolled_back_and_uncommitted_events_are_never_claimed(self, outbox: Any) -> None:
        async with outbox as session:
            outbox.add(session, _event(1))
            await outbox.rollback(session)
        async with outbox as session:
            outbox.add(session, _event(2))
        assert await self.claim(outbox, "w1") == []

    async def test_a_leased_row_is_not_claimed_by_another_worker(self, outbox: Any) -> None:
        await self.write(outbox, _event(1), _event(2))
        first = await self.claim(outbox, "w1", size=1)
        second = await self.claim(outbox, "w2")
        assert _numbers(first) == [1]
        assert _numbers(second) == [2]
        assert await self.claim(outbox, "w3") == []

    async def test_concurrent_claims_never_share_a_row(self, outbox: Any) -> None:
        await self.write(outbox, *(_event(n) for n in range(60)))
        batches = await asyncio.gather(*(self.claim(outbox, f"w{i}", size=7) for i in range(12)))
        ids = [row.id for batch in batches for row in batch]
        assert len(ids) == len(set(ids)) == 60

    async def test_an_expired_lease_lets_another_worker_claim(self, outbox: Any) -> None:
        await self.write(outbox, _event(1))
        rows = await outbox.claim(worker_id="w1", batch_size=10, lease_seconds=self.short_lease)
        assert _numbers(rows) == [1]
        await asyncio.sleep(self.short_lease + 0.3)
        again = await self.claim(outbox, "w2")
        assert _numbers(again) == [1]
        assert await outbox.mark_published(rows, worker_id="w1") == 0
        assert await outbox.mark_published(again, worker_id="w2") == 1

    async def test_published_rows_are_not_claimed_again(self, outbox: Any) -> None:
        await self.write(outbox, _event(1), _event(2))
        rows = await self.claim(outbox, "w1")
        assert await outbox.mark_published(rows[:1], worker_id="w1") == 1
        await outbox.release(rows[1:], worker_id="w1")
        assert _numbers(await self.claim(outbox, "w2")) == [2]

    async def test_only_the_lease_holder_settles_a_row(self, outbox: Any) -> None:
        await self.write(outbox, _event(1))
        rows = await self.claim(outbox, "w1")
        assert await outbox.mark_published(rows, worker_id="intruder") == 0
        assert await outbox.mark_published(rows, worker_id="w1") == 1

    async def test_a_key_is_held_by_one_worker_at_a_time(self, outbox: Any) -> None:
        await self.write(outbox, *(_event(n, key="K") for n in range(4)))
        first = await self.claim(outbox, "w1", size=2)
        assert _numbers(first) == [0, 1]
        await self.write(outbox, _event(9, key="L"))
        second = await self.claim(outbox, "w2")
        assert _numbers(second) == [9], "rows 2 and 3 of K must wait for rows 0 and 1"
        await outbox.mark_published(first, worker_id="w1")
        assert _numbers(await self.claim(outbox, "w2")) == [2, 3]

    async def test_a_failed_row_holds_back_its_key_until_retry(self, outbox: Any) -> None:
        await self.write(outbox, _event(0, key="K"), _event(1, key="K"), _event(2))
        rows = await self.claim(outbox, "w1")
        status = await outbox.mark_failed(
            rows[0], worker_id="w1", error="broker down", retry_at=_future(self.short_lease)
        )
        assert status is OutboxStatus.PENDING
        await outbox.release(rows[1:], worker_id="w1")
        assert _numbers(await self.claim(outbox, "w2")) == [2]
        await asyncio.sleep(self.short_lease + 0.3)
        retried = await self.claim(outbox, "w3")
        assert _numbers(retried) == [0, 1]
        assert retried[0].attempts == 1

    async def test_dead_letters_park_their_key_until_replayed(self, outbox: Any) -> None:
        await self.write(outbox, _event(0, key="K"), _event(1, key="K"), _event(2, key="M"))
        rows = await self.claim(outbox, "w1")
        status = await outbox.mark_failed(rows[0], worker_id="w1", error="poison", retry_at=None)
        assert status is OutboxStatus.DEAD
        await outbox.release(rows[1:], worker_id="w1")
        assert _numbers(await self.claim(outbox, "w2")) == [2]
        dead = await outbox.dead_letters()
        assert _numbers(dead) == [0]
        assert dead[0].last_error == "poison"
        assert dead[0].status is OutboxStatus.DEAD
        stats = await outbox.stats()
        assert stats.dead == 1
        assert await outbox.replay([dead[0].id]) == 1
        replayed = await self.claim(outbox, "w3")
        assert _numbers(replayed) == [0, 1]
        assert replayed[0].attempts == 0

    async def test_a_long_parked_key_does_not_starve_other_keys(self, outbox: Any) -> None:
        await self.write(outbox, *(_event(n, key="K") for n in range(12)))
        await self.write(outbox, *(_event(100 + n, key=f"other-{n}") for n in range(3)))
        first = await self.claim(outbox, "w1", size=1)
        await outbox.mark_failed(first[0], worker_id="w1", error="poison", retry_at=None)
        rows = await self.claim(outbox, "w2", size=5)
        assert _numbers(rows) == [100, 101, 102], "rows parked behind a dead letter fill no batch"
        await outbox.release(rows, worker_id="w2")
        leased = await self.claim(outbox, "w3", size=1)
        rest = await self.claim(outbox, "w4", size=2)
        assert len(leased) == 1, "a batch of one takes one of the other keys' rows"
        assert sorted(_numbers(leased) + _numbers(rest)) == [100, 101, 102]

    async def test_discarding_a_dead_letter_releases_its_key(self, outbox: Any) -> None:
        await self.write(outbox, _event(0, key="K"), _event(1, key="K"))
        rows = await self.claim(outbox, "w1")
        await outbox.mark_failed(rows[0], worker_id="w1", error="poison", retry_at=None)
        await outbox.release(rows[1:], worker_id="w1")
        assert await self.claim(outbox, "w2") == []
        assert await outbox.discard([rows[0].id]) == 1
        assert await outbox.dead_letters() == []
        assert _numbers(await self.claim(outbox, "w2")) == [1]

    async def test_release_returns_rows_without_counting_an_attempt(self, outbox: Any) -> None:
        await self.write(outbox, _event(1, key="K"))
        rows = await self.claim(outbox, "w1")
        await outbox.release(rows, worker_id="w1")
        again = await self.claim(outbox, "w2")
        assert _numbers(again) == [1]
        assert again[0].attempts == 0

    async def test_stats_count_pending_leased_and_dead(self, outbox: Any) -> None:
        empty = await outbox.stats()
        assert (empty.pending, empty.leased, empty.dead, empty.lag) == (0, 0, 0, None)
        await self.write(outbox, _event(1), _event(2), _event(3))
        rows = await self.claim(outbox, "w1", size=2)
        await outbox.mark_failed(rows[0], worker_id="w1", error="x", retry_at=None)
        stats = await outbox.stats()
        assert (stats.pending, stats.leased, stats.dead) == (2, 1, 1)
        assert stats.lag is not None
        assert stats.lag >= datetime.timedelta(0)

    async def test_release_with_a_retry_time_holds_rows_and_their_keys_without_a_charge(
        self, outbox: Any
    ) -> None:
        await self.write(outbox, _event(1, key="K"), _event(2, key="K"), _event(3, key="L"))
        rows = await self.claim(outbox, "w1")
        assert _numbers(rows) == [1, 2, 3]
        await outbox.release(rows[:2], worker_id="w1", retry_at=_future(self.short_lease))
        await outbox.release(rows[2:], worker_id="w1")
        assert _numbers(await self.claim(outbox, "w2")) == [3], "K waits for its retry time"
        stats = await outbox.stats()
        assert (stats.pending, stats.delayed, stats.dead) == (3, 2, 0)
        await asyncio.sleep(self.short_lease + 0.1)
        again = await self.claim(outbox, "w3")
        assert _numbers(again) == [1, 2]
        assert [row.attempts for row in again] == [0, 0], "holding back charges no attempt"

    async def test_stats_count_rows_waiting_for_a_retry_as_delayed(self, outbox: Any) -> None:
        await self.write(outbox, _event(1), _event(2))
        rows = await self.claim(outbox, "w1")
        await outbox.mark_failed(rows[0], worker_id="w1", error="x", retry_at=_future(60))
        stats = await outbox.stats()
        assert (stats.pending, stats.leased, stats.delayed) == (2, 1, 1)
