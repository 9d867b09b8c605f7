"""The in-memory inbox passes the inbox contract."""

from __future__ import annotations

import pytest

from cqrs.memory.inbox import MemoryInbox
from cqrs.testing.inbox import InboxContract


class TestMemoryInbox(InboxContract):
    @pytest.fixture
    async def inbox(self) -> MemoryInbox:
        return MemoryInbox()
