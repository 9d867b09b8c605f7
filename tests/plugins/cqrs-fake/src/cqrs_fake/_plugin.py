"""Hook implementations of the fake plugin."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_make_message_broker(url: str) -> Any:
    if not url.startswith("fake://"):
        return None
    from cqrs_fake import FakeMessageBroker

    return FakeMessageBroker(url.removeprefix("fake://"))


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    return {"message_broker": ["fake"]}
