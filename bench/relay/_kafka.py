"""Counting what reached a Kafka topic, by reading it back (both sides' workers use this).

tansu's end offsets do not add up to the number of records it holds, so the topic is consumed
from the beginning and its records counted instead.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["count_records", "read_records"]


async def read_records(servers: str, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    """Every record of `topic`, read from the start until `expected` are seen or reads go
    quiet for 2 s (at most `timeout` seconds)."""
    from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    seen: list[Any] = []
    quiet_since = time.monotonic()
    deadline = quiet_since + timeout
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            got = [record for records in batches.values() for record in records]
            seen += got
            now = time.monotonic()
            if got:
                quiet_since = now
            elif len(seen) >= expected or now - quiet_since > 2.0:
                break
    finally:
        await consumer.stop()
    return seen


async def count_records(servers: str, topic: str, expected: int, timeout: float = 30.0) -> int:
    """How many records `topic` holds (see `read_records`)."""
    return len(await read_records(servers, topic, expected, timeout))
