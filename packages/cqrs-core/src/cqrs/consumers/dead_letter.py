"""The headers a dead letter carries: why it was dead-lettered and where it came from.

Every consumer (the runner's transports, FastStream subscribers) writes these names, defined
here once, so tools reading dead-letter topics and queues find the same headers everywhere.
"""

from __future__ import annotations

__all__ = [
    "DEAD_LETTER_PREVIEW_BYTES",
    "DEAD_LETTER_REASON_HEADER",
    "DEAD_LETTER_TRUNCATED_HEADER",
    "MAX_REASON_CHARS",
    "ORIGINAL_EXCHANGE_HEADER",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_ROUTING_KEY_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "truncation",
]

DEAD_LETTER_REASON_HEADER = "dead-letter-reason"
"""Header carrying why a message was dead-lettered."""

DEAD_LETTER_TRUNCATED_HEADER = "dead-letter-truncated"
"""Header of a dead letter too large to copy whole: what was cut and its original size in
bytes, e.g. `value=1572864` (only the first `DEAD_LETTER_PREVIEW_BYTES` are kept) or
`headers=129000` (the original headers were dropped). The original stays where it was consumed,
found by the coordinates the dead letter keeps."""

ORIGINAL_TOPIC_HEADER = "original-topic"
"""Dead-letter header: the topic (or queue / routing key) the message was consumed from."""

ORIGINAL_PARTITION_HEADER = "original-partition"
"""Dead-letter header: the partition the record was consumed from (decimal; Kafka)."""

ORIGINAL_OFFSET_HEADER = "original-offset"
"""Dead-letter header: the offset of the record in its partition (decimal; Kafka)."""

DEAD_LETTER_PREVIEW_BYTES = 16 * 1024
"""How much of a payload a truncated dead letter keeps."""

ORIGINAL_EXCHANGE_HEADER = "original-exchange"
"""Dead-letter header: the exchange the message was first published to (RabbitMQ)."""

ORIGINAL_ROUTING_KEY_HEADER = "original-routing-key"
"""Dead-letter header: the routing key the message was first published with (RabbitMQ)."""

MAX_REASON_CHARS = 2000
"""Longest dead-letter reason: it travels in a header, which must stay small."""


def truncation(payload_bytes: int, header_bytes: int) -> tuple[str, bool]:
    """How to cut a dead letter too large to copy whole: the `dead-letter-truncated` value
    (`value=<size>`, plus `headers=<size>` when they go too) and whether the original headers
    (and key) go, which they do when they alone exceed `DEAD_LETTER_PREVIEW_BYTES`. The payload
    keeps its first `DEAD_LETTER_PREVIEW_BYTES`."""
    if header_bytes > DEAD_LETTER_PREVIEW_BYTES:
        return f"value={payload_bytes},headers={header_bytes}", True
    return f"value={payload_bytes}", False
