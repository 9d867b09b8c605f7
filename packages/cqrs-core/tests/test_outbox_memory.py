"""The in-memory outbox passes the outbox contract."""

from __future__ import annotations

import pytest

from cqrs.outbox.contract import OutboxRepositoryContract
from cqrs.outbox.memory import MemoryOutboxedEventRepository


class TestMemoryOutbox(OutboxRepositoryContract):
    @pytest.fixture
    async def outbox(self) -> MemoryOutboxedEventRepository:
        return MemoryOutboxedEventRepository()
