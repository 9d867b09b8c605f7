"""Hook implementations of the fake plugin: `fake://` declared, `fake-legacy://` the older way."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import MESSAGE_BROKER, SchemeDeclaration, hookimpl


@hookimpl
def cqrs_declare_schemes() -> list[SchemeDeclaration]:
    return [
        SchemeDeclaration(
            MESSAGE_BROKER, "fake", "cqrs_fake:FakeMessageBroker.from_url", "records messages"
        )
    ]


@hookimpl
def cqrs_make_message_broker(url: str) -> Any:
    """The older factory hook, as plugins written before `cqrs_declare_schemes` have it."""
    if not url.startswith("fake-legacy://"):
        return None
    from cqrs_fake import FakeMessageBroker

    return FakeMessageBroker.from_url(url)


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    """The older listing, for the scheme the older hook serves."""
    return {"message_broker": ["fake-legacy"]}
