"""Message brokers: the `MessageBroker` and lifecycle protocols, the `Message` it publishes,
built-in brokers.

`MemoryMessageBroker` is resolved on first access, so importing the protocol stays free of
asyncio. The contract every broker passes is `cqrs.brokers.contract.MessageBrokerContract`
(it imports pytest; also in `cqrs.testing`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cqrs.brokers.devnull import DevnullMessageBroker
from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.brokers.protocol import BrokerLifecycle, ManagedMessageBroker, MessageBroker

if TYPE_CHECKING:
    from cqrs.brokers.memory import MemoryMessageBroker

__all__ = [
    "HEADER_NAMES",
    "BrokerLifecycle",
    "DevnullMessageBroker",
    "ManagedMessageBroker",
    "MemoryMessageBroker",
    "Message",
    "MessageBroker",
]

_LAZY = {"MemoryMessageBroker": "cqrs.brokers.memory"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
