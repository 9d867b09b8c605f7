"""The in-memory inbox passes the inbox contract; `cqrs.inbox` is the concept's one home."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import cqrs
import cqrs.inbox
from cqrs.inbox.contract import InboxContract
from cqrs.inbox.memory import MemoryInbox


class TestMemoryInbox(InboxContract):
    @pytest.fixture
    async def inbox(self) -> MemoryInbox:
        return MemoryInbox()


FORMER_PATHS = {
    "cqrs.protocols.inbox": ("Inbox",),
    "cqrs.memory.inbox": ("MemoryInbox", "MemoryInboxSession"),
    "cqrs.testing.inbox": ("InboxContract",),
    "cqrs.testing": ("InboxContract",),
    "cqrs": ("Inbox", "MemoryInbox"),
}


@pytest.mark.parametrize(("module_name", "names"), FORMER_PATHS.items(), ids=FORMER_PATHS.keys())
def test_former_paths_name_the_objects_of_cqrs_inbox(
    module_name: str, names: tuple[str, ...]
) -> None:
    module = importlib.import_module(module_name)
    for name in names:
        home = InboxContract if name == "InboxContract" else getattr(cqrs.inbox, name)
        assert getattr(module, name) is home, f"{module_name}.{name}"


def test_the_protocol_loads_without_asyncio() -> None:
    code = "import sys, cqrs.inbox; print(*sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert "asyncio" not in done.stdout.split()
