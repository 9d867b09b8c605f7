"""The contract every inbox passes, as a test class to subclass.

A subclass named `Test...` provides an async `inbox` fixture yielding an empty inbox.
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from typing import Any

import pytest

__all__ = ["InboxContract"]


class InboxContract(abc.ABC):
    """Deduplication, transactionality and concurrency of `Inbox.record`."""

    @pytest.fixture
    @abc.abstractmethod
    async def inbox(self) -> Any:
        """An empty inbox."""

    async def process(self, inbox: Any, message_id: uuid.UUID, consumer: str = "c") -> bool:
        """Record and commit; returns whether this call was the first."""
        async with inbox as session:
            first = await inbox.record(session, message_id, consumer=consumer)
            await inbox.commit(session)
        return bool(first)

    async def test_a_message_is_new_once(self, inbox: Any) -> None:
        message_id = uuid.uuid4()
        assert await self.process(inbox, message_id) is True
        assert await self.process(inbox, message_id) is False
        assert await inbox.seen(message_id, consumer="c")

    async def test_consumers_are_independent(self, inbox: Any) -> None:
        message_id = uuid.uuid4()
        assert await self.process(inbox, message_id, "billing") is True
        assert await self.process(inbox, message_id, "shipping") is True
        assert not await inbox.seen(message_id, consumer="audit")

    async def test_a_rolled_back_record_is_forgotten(self, inbox: Any) -> None:
        message_id = uuid.uuid4()
        async with inbox as session:
            assert await inbox.record(session, message_id, consumer="c") is True
            await inbox.rollback(session)
        assert not await inbox.seen(message_id, consumer="c")
        assert await self.process(inbox, message_id) is True

    async def test_leaving_without_commit_forgets_the_record(self, inbox: Any) -> None:
        message_id = uuid.uuid4()
        async with inbox as session:
            await inbox.record(session, message_id, consumer="c")
        assert await self.process(inbox, message_id) is True

    async def test_concurrent_deliveries_have_one_winner(self, inbox: Any) -> None:
        message_id = uuid.uuid4()
        results = await asyncio.gather(*(self.process(inbox, message_id) for _ in range(8)))
        assert sorted(results) == [False] * 7 + [True]

    async def test_a_waiting_delivery_wins_when_the_first_rolls_back(self, inbox: Any) -> None:
        message_id = uuid.uuid4()
        recorded = asyncio.Event()
        release = asyncio.Event()

        async def first() -> None:
            async with inbox as session:
                assert await inbox.record(session, message_id, consumer="c")
                recorded.set()
                await release.wait()
                await inbox.rollback(session)

        task = asyncio.create_task(first())
        await recorded.wait()
        second = asyncio.create_task(self.process(inbox, message_id))
        await asyncio.sleep(0.1)
        assert not second.done(), "the second delivery must wait for the first transaction"
        release.set()
        await task
        assert await asyncio.wait_for(second, 10) is True
