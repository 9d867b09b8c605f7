"""Consuming events from brokers: the broker-neutral message dispatcher used by consumer runners."""

from cqrs.consumer.dispatcher import (
    DEAD_LETTER_REASON_HEADER,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_REASON_CHARS,
    MessageDispatcher,
    Outcome,
    Verdict,
    inbox_session,
)

__all__ = [
    "DEAD_LETTER_REASON_HEADER",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_REASON_CHARS",
    "MessageDispatcher",
    "Outcome",
    "Verdict",
    "inbox_session",
]
