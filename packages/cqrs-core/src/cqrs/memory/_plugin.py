"""The built-in plugin: the schemes that need no third-party library."""

from __future__ import annotations

from cqrs.plugins.declarations import (
    INBOX,
    MESSAGE_BROKER,
    OUTBOX,
    SAGA_STORAGE,
    SchemeDeclaration,
)
from cqrs.plugins.markers import hookimpl

_FACTORIES = "cqrs.memory._from_url"


@hookimpl
def cqrs_declare_schemes() -> list[SchemeDeclaration]:
    """`memory://` for every role, in-process; `devnull://`, a broker that drops messages."""
    return [
        SchemeDeclaration(
            MESSAGE_BROKER, "memory", f"{_FACTORIES}:message_broker", "in-process broker"
        ),
        SchemeDeclaration(
            MESSAGE_BROKER,
            "devnull",
            f"{_FACTORIES}:devnull_message_broker",
            "accepts every message, keeps none",
        ),
        SchemeDeclaration(OUTBOX, "memory", f"{_FACTORIES}:outbox", "in-process outbox"),
        SchemeDeclaration(INBOX, "memory", f"{_FACTORIES}:inbox", "in-process inbox"),
        SchemeDeclaration(
            SAGA_STORAGE, "memory", f"{_FACTORIES}:saga_storage", "in-process saga storage"
        ),
    ]
