"""The in-memory saga storage passes the saga storage contract."""

from __future__ import annotations

import pytest

from cqrs.saga.storage.contract import SagaStorageContract
from cqrs.saga.storage.memory import MemorySagaStorage


class TestMemorySagaStorage(SagaStorageContract):
    @pytest.fixture
    async def storage(self) -> MemorySagaStorage:
        return MemorySagaStorage()
