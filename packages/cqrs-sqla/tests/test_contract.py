"""Every SQL outbox and inbox passes the contract suites from `cqrs.testing`."""

from __future__ import annotations

import pytest

from cqrs.testing.inbox import InboxContract
from cqrs.testing.outbox import OutboxRepositoryContract
from cqrs_sqla import SqlAlchemyInbox, SqlAlchemyOutboxedEventRepository


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
