"""Hook implementations of the kafka plugin: `kafka://` message broker URLs."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_make_message_broker(url: str) -> Any:
    if url.partition("://")[0].lower() != "kafka":
        return None
    from cqrs_kafka._url import broker_from_url

    return broker_from_url(url)


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    return {"message_broker": ["kafka"]}


@hookimpl
def cqrs_classify_error(error: BaseException) -> Any:
    """aiokafka's errors as destination or message faults (`None` for anyone else's)."""
    if not type(error).__module__.startswith(("aiokafka", "kafka")):
        return None
    from cqrs_kafka._errors import classify_kafka

    return classify_kafka(error)
