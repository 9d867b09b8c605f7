"""Every SQL outbox passes the outbox contract suite from `cqrs.testing`."""

from __future__ import annotations

import pytest

from cqrs.testing.outbox import OutboxRepositoryContract
from cqrs_sqla import SqlAlchemyOutboxedEventRepository


class TestSqlAlchemyOutbox(OutboxRepositoryContract):
    @pytest.fixture
    async def outbox(
        self, outbox_on: SqlAlchemyOutboxedEventRepository
    ) -> SqlAlchemyOutboxedEventRepository:
        return outbox_on
