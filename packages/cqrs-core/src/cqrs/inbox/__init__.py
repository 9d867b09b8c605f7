"""The inbox: its protocol and in-memory implementation, for handling each message once.

The protocol loads with the package and the in-memory inbox (which imports asyncio) on first
access. The contract suite, `cqrs.inbox.contract.InboxContract`, imports pytest and is left out.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cqrs.inbox.protocol import Inbox

_LAZY: dict[str, str] = {
    "MemoryInbox": "cqrs.inbox.memory",
    "MemoryInboxSession": "cqrs.inbox.memory",
}

__all__ = ["Inbox", "MemoryInbox", "MemoryInboxSession"]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'cqrs.inbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from cqrs.inbox.memory import MemoryInbox, MemoryInboxSession
