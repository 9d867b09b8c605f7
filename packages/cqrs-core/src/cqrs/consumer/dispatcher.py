"""Re-export of `cqrs.consumers.dispatcher` under its former path."""

from cqrs.consumers.dispatcher import (
    DEAD_LETTER_PREVIEW_BYTES,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_REASON_CHARS,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    MessageDispatcher,
    Outcome,
    Verdict,
    inbox_session,
)

__all__ = [
    "DEAD_LETTER_PREVIEW_BYTES",
    "DEAD_LETTER_REASON_HEADER",
    "DEAD_LETTER_TRUNCATED_HEADER",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_REASON_CHARS",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "MessageDispatcher",
    "Outcome",
    "Verdict",
    "inbox_session",
]
