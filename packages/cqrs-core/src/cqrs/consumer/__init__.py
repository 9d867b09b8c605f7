"""The former home of the consumer side, kept so that `cqrs.consumer` imports keep working.

Everything lives in `cqrs.consumers` now; this package re-exports the same objects.
"""

from cqrs.consumers import (
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
