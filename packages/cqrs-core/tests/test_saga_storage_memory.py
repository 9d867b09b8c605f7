"""The in-memory saga storage passes the saga storage contract."""

from __future__ import annotations

import pytest

from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.saga_storage import SagaStorageContract


class TestMemorySagaStorage(SagaStorageContract):
    @pytest.fixture
    async def storage(self) -> MemorySagaStorage:
        return MemorySagaStorage()
