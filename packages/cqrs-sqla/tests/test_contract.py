"""Every SQL outbox, inbox and saga storage passes the contract suites from `cqrs.testing`."""

from __future__ import annotations

import pytest

from cqrs.inbox.contract import InboxContract
from cqrs.outbox.contract import OutboxRepositoryContract
from cqrs.saga.storage.contract import SagaStorageContract
from cqrs_sqla import SqlAlchemyInbox, SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage


class TestSqlAlchemyOutbox(OutboxRepositoryContract):
    @pytest.fixture
    async def outbox(
        self, outbox_on: SqlAlchemyOutboxedEventRepository
    ) -> SqlAlchemyOutboxedEventRepository:
        return outbox_on


class TestSqlAlchemyInbox(InboxContract):
    @pytest.fixture
    async def inbox(self, inbox_on: SqlAlchemyInbox) -> SqlAlchemyInbox:
        return inbox_on


class TestSqlAlchemySagaStorage(SagaStorageContract):
    @pytest.fixture
    async def storage(self, saga_storage_on: SqlAlchemySagaStorage) -> SqlAlchemySagaStorage:
        return saga_storage_on
