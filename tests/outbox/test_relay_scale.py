"""Relays joining and leaving one outbox: no row published twice while both are alive, and
every key's events in write order (PostgreSQL and RabbitMQ, `cqrs relay` processes), whether
the leaving relay is stopped or killed."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import cqrs
from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.events.bootstrap import bootstrap as events_bootstrap
from cqrs.interception import Interceptor
from cqrs.testing._support.rabbitmq import delete_queues
from cqrs.testing._support.services import require_service
from cqrs_rabbitmq import RabbitMQEventConsumer
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

EVENTS = 3000
KEYS = 30


class Step(cqrs.NotificationEvent[dict[str, int]]):
    pass


class Arrivals(Interceptor):
    """Every message the consumer handled, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[cqrs.Message] = []

    async def intercept_consume(
        self, message: cqrs.Message, proceed: Callable[[cqrs.Message], Awaitable[Any]]
    ) -> Any:
        self.messages.append(message)
        return await proceed(message)


class Noted(cqrs.EventHandler[Step]):
    async def handle(self, event: Step) -> None:
        return None


def relay(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cqrs",
            "relay",
            "--outbox",
            url,
            "--broker",
            require_service("rabbitmq").url,
            "--batch-size",
            "20",
            "--lease",
            "10",
            "--progress",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, stderr


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("leaving", ["sigterm", "sigkill"])
async def test_relays_joining_and_leaving_keep_key_order_and_lose_nothing(leaving: str) -> None:
    """A relay that leaves by SIGTERM releases what it held: every row arrives exactly once.
    One killed by SIGKILL leaves its rows leased: the other relay publishes them once the
    10 s lease ends, so only the rows the killed relay had in flight (at most two batches of
    20) may arrive twice, and every key's events still arrive in write order."""
    table = f"scale_{uuid.uuid4().hex[:10]}"
    url = f"{require_service('postgres').url}?table={table}"
    topic = f"cqrs.scale.{table}"
    outbox = SqlAlchemyOutboxedEventRepository.from_url(url)
    await outbox.create_schema()
    await outbox.add_many(
        [
            Step(
                event_name="Step",
                topic=topic,
                payload={"key": n % KEYS, "seq": n // KEYS},
                partition_key=f"k{n % KEYS}",
            )
            for n in range(EVENTS)
        ]
    )
    arrivals = Arrivals()
    rabbit = require_service("rabbitmq").url
    queue = f"cqrs.scale.q.{uuid.uuid4().hex[:10]}"
    consumer = RabbitMQEventConsumer(
        rabbit,
        queue,
        [topic],
        MessageDispatcher(
            events_bootstrap(events_mapper=lambda m: m.bind(Step, Noted)),
            {"Step": Step},
            interceptors=[arrivals],
        ),
        prefetch=100,
    )
    consuming = asyncio.create_task(consumer.run())
    first = second = None
    try:
        await asyncio.wait_for(consumer.wait_started(), 30)
        first = relay(url)
        await until(lambda: len(arrivals.messages) >= 300, 60, "the first relay's deliveries")
        second = relay(url)  # joins mid-run
        await until(lambda: len(arrivals.messages) >= 1200, 60, "both relays' deliveries")
        left_at = len(arrivals.messages)
        if leaving == "sigterm":
            stop(first)  # leaves mid-run, releasing what it held
        else:
            first.kill()  # dies mid-run between any two lines, its leases still held
            first.communicate(timeout=30)
        assert left_at < EVENTS, "the first relay left before the end"
        await until(
            lambda: len({m.message_id for m in arrivals.messages}) >= EVENTS, 120, "every event"
        )
        await asyncio.sleep(1.0)  # anything published twice would arrive meanwhile
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                stop(process)
        consumer.stop()
        await consuming
        await delete_queues(rabbit, queue, consumer.dead_letter_queue)
        await outbox.drop_schema()
        await outbox.close()

    ids = [m.message_id for m in arrivals.messages]
    assert len(set(ids)) == EVENTS
    twice = len(ids) - EVENTS
    if leaving == "sigterm":
        assert twice == 0, f"{twice} rows published twice"
    else:
        assert twice <= 2 * 20, f"{twice} rows published twice: more than the killed relay held"
    per_key: dict[int, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for message in arrivals.messages:
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        payload = json.loads(message.payload)["payload"]
        per_key[payload["key"]].append(payload["seq"])
    assert len(per_key) == KEYS
    for key, seqs in per_key.items():
        assert seqs == list(range(EVENTS // KEYS)), f"key {key} out of order: {seqs[:20]}"
