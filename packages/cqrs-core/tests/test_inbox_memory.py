"""The in-memory inbox passes the inbox contract."""

from __future__ import annotations

import pytest

from cqrs.inbox.contract import InboxContract
from cqrs.inbox.memory import MemoryInbox


class TestMemoryInbox(InboxContract):
    @pytest.fixture
    async def inbox(self) -> MemoryInbox:
        return MemoryInbox()
