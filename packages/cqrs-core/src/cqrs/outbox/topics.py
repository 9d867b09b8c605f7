"""Topic names checked where an event enters the outbox, so a bad one fails its writer at once.

A topic a broker can never accept would otherwise be stored, then refused by every relay
attempt and dead-lettered, or fail the writer's transaction with a database error about column
length. Outboxes check each event's topic with their `TopicRules` when it is added::

    from cqrs.outbox.topics import KAFKA_TOPIC_RULES, check_topic

    check_topic("orders.paid", KAFKA_TOPIC_RULES)  # fine
    check_topic("orders paid", KAFKA_TOPIC_RULES)  # raises InvalidTopicError
"""

from __future__ import annotations

import dataclasses
import re

from cqrs.errors import InvalidTopicError

__all__ = [
    "AMQP_TOPIC_RULES",
    "DEFAULT_TOPIC_RULES",
    "KAFKA_TOPIC_RULES",
    "TopicRules",
    "check_topic",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclasses.dataclass(frozen=True, slots=True)
class TopicRules:
    """What a topic name must satisfy: a length in characters and in UTF-8 bytes, and
    optionally a pattern the whole name must match (`broker` names whose rules these are)."""

    max_chars: int = 255
    max_bytes: int = 255
    pattern: re.Pattern[str] | None = None
    broker: str = "any broker"
    forbidden: frozenset[str] = frozenset()
    """Whole names the broker reserves (Kafka refuses `.` and `..`)."""


DEFAULT_TOPIC_RULES = TopicRules()
"""Outbox default: 1-255 characters (the column's size), at most 255 UTF-8 bytes (an AMQP
routing key), no control characters."""

AMQP_TOPIC_RULES = TopicRules(max_chars=255, max_bytes=255, broker="RabbitMQ")
"""RabbitMQ routing keys: at most 255 bytes, no control characters."""

KAFKA_TOPIC_RULES = TopicRules(
    max_chars=249,
    max_bytes=249,
    pattern=re.compile(r"[A-Za-z0-9._-]+"),
    broker="Kafka",
    forbidden=frozenset({".", ".."}),
)
"""Kafka topic names: 1-249 ASCII letters, digits, `.`, `_` or `-`, and not `.` or `..`."""


def check_topic(topic: object, rules: TopicRules = DEFAULT_TOPIC_RULES) -> str:
    """Return `topic` if `rules` accept it; else raise `InvalidTopicError` saying why."""
    if not isinstance(topic, str) or not topic:
        raise InvalidTopicError(f"an event needs a topic, got {topic!r}")
    shown = repr(topic if len(topic) <= 80 else topic[:77] + "...")
    if len(topic) > rules.max_chars:
        raise InvalidTopicError(
            f"topic {shown} has {len(topic)} characters; {rules.broker} takes at most "
            f"{rules.max_chars}"
        )
    size = len(topic.encode("utf-8", "surrogatepass"))
    if size > rules.max_bytes:
        raise InvalidTopicError(
            f"topic {shown} is {size} bytes in UTF-8; {rules.broker} takes at most "
            f"{rules.max_bytes}"
        )
    if _CONTROL.search(topic):
        raise InvalidTopicError(f"topic {shown} contains control characters")
    if topic in rules.forbidden or (
        rules.pattern is not None and rules.pattern.fullmatch(topic) is None
    ):
        raise InvalidTopicError(f"topic {shown} is not a valid {rules.broker} topic name")
    return topic
