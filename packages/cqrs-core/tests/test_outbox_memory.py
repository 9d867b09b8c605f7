"""The in-memory outbox passes the outbox contract."""

from __future__ import annotations

import pytest

from cqrs.memory.outbox import MemoryOutboxedEventRepository
from cqrs.testing.outbox import OutboxRepositoryContract


class TestMemoryOutbox(OutboxRepositoryContract):
    @pytest.fixture
    async def outbox(self) -> MemoryOutboxedEventRepository:
        return MemoryOutboxedEventRepository()
