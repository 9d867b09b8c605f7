"""RabbitMQEventConsumer against a real RabbitMQ: acks after handling, dead letters, recovery."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

import cqrs
from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumer import DEAD_LETTER_REASON_HEADER, MessageDispatcher
from cqrs.events.bootstrap import bootstrap
from cqrs.inbox.memory import MemoryInbox, MemoryInboxSession
from cqrs.testing._support.polling import poll
from cqrs_rabbitmq import RabbitMQEventConsumer, RabbitMQMessageBroker

pytestmark = pytest.mark.rabbitmq


class Joined(cqrs.Response):
    user_id: str
    seats: int


JoinedEvent = cqrs.NotificationEvent[Joined]
TOPIC = "users.joined"


class Recorder:
    """What the handler saw: completed events, calls per user, concurrency per key."""

    def __init__(self, *, delay: float = 0.0, gate_open: bool = True) -> None:
        self.handled: list[Any] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.delay = delay
        self.delays: dict[str, float] = {}
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        if gate_open:
            self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.key_in_flight: collections.Counter[str | None] = collections.Counter()
        self.max_key_in_flight = 0
        self.unavailable: Exception | None = None
        """Raised by every call while set: a service the handler needs is down."""
        self.refused = 0

    @property
    def user_ids(self) -> list[str]:
        return [event.payload.user_id for event in self.handled]


class JoinedHandler(cqrs.EventHandler[JoinedEvent]):
    """Records events; `boom` always fails, `slow-*` waits for the recorder's gate."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def handle(self, event: Any) -> None:
        recorder, user_id, key = self.recorder, event.payload.user_id, event.partition_key
        if recorder.unavailable is not None:
            recorder.refused += 1
            raise recorder.unavailable
        recorder.calls[user_id] += 1
        recorder.in_flight += 1
        recorder.key_in_flight[key] += 1
        recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
        recorder.max_key_in_flight = max(recorder.max_key_in_flight, recorder.key_in_flight[key])
        try:
            if user_id == "boom":
                raise RuntimeError("downstream unavailable")
            if user_id.startswith("slow"):
                recorder.entered.set()
                await recorder.gate.wait()
            delay = recorder.delays.get(user_id, recorder.delay)
            if delay:
                await asyncio.sleep(delay)
            recorder.handled.append(event)
        finally:
            recorder.in_flight -= 1
            recorder.key_in_flight[key] -= 1


def joined(user_id: str, key: str | None = None, seats: int = 2) -> Message:
    event = JoinedEvent(
        event_name="UserJoined",
        topic=TOPIC,
        payload=Joined(user_id=user_id, seats=seats),
        partition_key=key,
    )
    return Message.from_event(event)


def dispatcher(recorder: Recorder, **options: Any) -> MessageDispatcher:
    container = cqrs.BuiltinContainer()
    container.register_instance(JoinedHandler, JoinedHandler(recorder))
    mediator = bootstrap(
        di_container=container, events_mapper=lambda m: m.bind(JoinedEvent, JoinedHandler)
    )
    options.setdefault("backoff", ExponentialBackoff(base=0.001, jitter=False))
    return MessageDispatcher(mediator, {"UserJoined": JoinedEvent}, **options)


async def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until `predicate()` holds; TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


class Harness:
    """Starts consumers on a test-owned queue, exchange and dead-letter exchange, and deletes
    them all at the end."""

    def __init__(self, url: str, exchange: str, admin: AbstractConnection) -> None:
        self.url = url
        self.exchange = exchange
        self.admin = admin
        self.queue = f"cqrs.test.consumer.{uuid.uuid4().hex[:12]}"
        self.dead_letter_exchange = f"cqrs.test.dlx.{uuid.uuid4().hex[:12]}"
        self.runs: dict[RabbitMQEventConsumer, asyncio.Task[None]] = {}

    async def start(
        self, dispatcher: MessageDispatcher, url: str | None = None, **options: Any
    ) -> RabbitMQEventConsumer:
        consumer = RabbitMQEventConsumer(
            url or self.url,
            self.queue,
            ["users.*"],
            dispatcher,
            exchange=self.exchange,
            dead_letter_exchange=self.dead_letter_exchange,
            **options,
        )
        self.runs[consumer] = asyncio.create_task(consumer.run())
        async with asyncio.timeout(15):
            await consumer.wait_started()
        return consumer

    async def stop(self, consumer: RabbitMQEventConsumer) -> None:
        """Graceful stop; re-raises what `run()` raised."""
        consumer.stop()
        async with asyncio.timeout(20):
            await self.runs.pop(consumer)

    async def kill(self, consumer: RabbitMQEventConsumer) -> None:
        """Cancel `run()` wherever it is, as a crash would end it."""
        task = self.runs.pop(consumer)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def dead_letters(
        self, count: int, timeout: float = 10.0
    ) -> list[AbstractIncomingMessage]:
        channel = await self.admin.channel()
        try:
            queue = await channel.get_queue(f"{self.queue}.dead-letter")
            return await poll(lambda: queue.get(no_ack=True, fail=False), count, timeout)
        finally:
            await channel.close()

    async def ready_count(self, name: str | None = None) -> int:
        """Messages ready in a queue (the consumer's by default) at this instant."""
        channel = await self.admin.channel()
        try:
            queue = await channel.declare_queue(name or self.queue, passive=True)
            assert queue.declaration_result.message_count is not None
            return queue.declaration_result.message_count
        finally:
            await channel.close()

    async def cleanup(self) -> None:
        for consumer in list(self.runs):
            await self.kill(consumer)
        channel = await self.admin.channel()
        await channel.queue_delete(self.queue)
        await channel.queue_delete(f"{self.queue}.dead-letter")
        await channel.exchange_delete(self.dead_letter_exchange)
        await channel.exchange_delete(self.exchange)
        await channel.close()


@pytest.fixture
async def harness(rabbitmq_url: str, exchange_name: str) -> AsyncIterator[Harness]:
    admin = await aio_pika.connect(rabbitmq_url)
    harness = Harness(rabbitmq_url, exchange_name, admin)
    try:
        yield harness
    finally:
        try:
            await harness.cleanup()
        finally:
            await admin.close()


@pytest.fixture
async def broker(rabbitmq_url: str, exchange_name: str) -> AsyncIterator[RabbitMQMessageBroker]:
    async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
        yield broker


async def test_hostile_messages_are_dead_lettered_and_good_ones_keep_flowing(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    recorder = Recorder()
    consumer = await harness.start(dispatcher(recorder, max_message_bytes=1000))
    wrong_types = {
        "event_name": "UserJoined",
        "topic": TOPIC,
        "payload": {"user_id": "u", "seats": "two"},
    }
    unknown = joined("nobody")
    hostile = {
        "not valid application/json": Message(
            topic=TOPIC, payload=b'{"event_name": "UserJoined", ', message_name="UserJoined"
        ),
        "unknown event 'UserLeft'": Message(
            topic=TOPIC, payload=unknown.payload, message_name="UserLeft"
        ),
        "payload.seats: expected an integer": Message(
            topic=TOPIC, payload=json.dumps(wrong_types).encode(), message_name="UserJoined"
        ),
        "exceeds the limit of 1000 bytes": joined("x" * 2000),
        "invalid message headers": Message(
            topic=TOPIC,
            payload=joined("bad-id").payload,
            message_name="UserJoined",
            extra_headers={"event-id": "not-a-uuid"},
        ),
    }
    stream: list[Message] = []
    for index, bad in enumerate(hostile.values()):
        stream += [joined(f"u{index}"), bad]
    stream.append(joined("last"))
    for message in stream:
        await broker.send_message(message)

    dead = await harness.dead_letters(len(hostile))
    await eventually(lambda: consumer.handled == 6)
    await harness.stop(consumer)

    assert recorder.user_ids == ["u0", "u1", "u2", "u3", "u4", "last"]
    assert (consumer.handled, consumer.duplicates, consumer.dead_lettered) == (6, 0, 5)
    for (reason, sent), received in zip(hostile.items(), dead, strict=True):
        headers = received.headers
        assert reason in str(headers[DEAD_LETTER_REASON_HEADER])
        assert headers["original-exchange"] == harness.exchange
        assert headers["original-routing-key"] == TOPIC
        assert received.body == sent.payload
        assert {k: headers[k] for k in sent.headers()} == sent.headers()
        assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert await harness.ready_count() == 0, "every message was acked"


async def test_a_failing_handler_is_dead_lettered_after_its_attempts(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    recorder = Recorder()
    consumer = await harness.start(dispatcher(recorder, handler_attempts=3))
    failing = joined("boom")
    await broker.send_message(failing)
    await broker.send_message(joined("after"))

    [dead] = await harness.dead_letters(1)
    await eventually(lambda: consumer.handled == 1)
    assert recorder.calls["boom"] == 3
    assert recorder.user_ids == ["after"]
    reason = str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert "after 3 attempt(s)" in reason
    assert "downstream unavailable" in reason
    assert dead.headers["event-id"] == str(failing.message_id)
    assert consumer.dead_lettered == 1


async def test_a_message_is_acked_only_after_handling_so_a_crash_redelivers_it(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    first = Recorder(gate_open=False)
    crashed = await harness.start(dispatcher(first))
    await broker.send_message(joined("slow-1"))
    async with asyncio.timeout(10):
        await first.entered.wait()
    await harness.kill(crashed)
    assert first.handled == []

    second = Recorder()
    successor = await harness.start(dispatcher(second))
    await eventually(lambda: second.user_ids == ["slow-1"])
    await harness.stop(successor)
    assert await harness.ready_count() == 0


async def test_stop_finishes_the_message_in_hand_and_leaves_the_rest_queued(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    first = Recorder(gate_open=False)
    stopping = await harness.start(dispatcher(first), prefetch=10)
    await broker.send_many([joined("slow-1"), joined("u1"), joined("u2")])
    async with asyncio.timeout(10):
        await first.entered.wait()
    stopped = asyncio.create_task(harness.stop(stopping))
    for _ in range(20):  # run() cannot return while the handler is still at work
        await asyncio.sleep(0)
    assert not stopped.done()
    first.gate.set()
    await stopped
    assert first.user_ids == ["slow-1"]
    assert stopping.handled == 1

    second = Recorder()
    successor = await harness.start(dispatcher(second))
    await eventually(lambda: len(second.handled) == 2)
    await harness.stop(successor)
    assert second.user_ids == ["u1", "u2"], "slow-1 was acked before the consumer stopped"


class CuttingInbox(MemoryInbox):
    """Cuts the consumer's connection right after the first commit, so its ack is lost."""

    def __init__(self, cut: Callable[[], None]) -> None:
        super().__init__()
        self._cut: Callable[[], None] | None = cut

    async def commit(self, session: MemoryInboxSession) -> None:
        await super().commit(session)
        cut, self._cut = self._cut, None
        if cut is not None:
            cut()


async def test_a_redelivery_after_a_lost_ack_is_a_duplicate_with_the_inbox(
    harness: Harness, broker: RabbitMQMessageBroker, proxy: Any
) -> None:
    recorder = Recorder()
    inbox = CuttingInbox(proxy.cut)
    consumer = await harness.start(
        dispatcher(recorder, inbox=inbox, consumer_name="seats"),
        url=proxy.url_for(harness.url, reconnect_interval="0.1"),
    )
    await broker.send_message(joined("u1"))
    await eventually(lambda: consumer.duplicates == 1)
    await broker.send_message(joined("u2"))  # the consumer goes on after the reconnect
    await eventually(lambda: consumer.handled == 2)
    await harness.stop(consumer)
    assert proxy.accepted >= 2, "the consumer reconnected"
    assert recorder.calls == {"u1": 1, "u2": 1}, "the effect happened once"
    assert recorder.user_ids == ["u1", "u2"]
    assert await harness.ready_count() == 0


async def test_consuming_goes_on_after_connection_cuts_and_keeps_key_order(
    harness: Harness, broker: RabbitMQMessageBroker, proxy: Any
) -> None:
    recorder = Recorder(delay=0.002)
    consumer = await harness.start(
        dispatcher(recorder), url=proxy.url_for(harness.url, reconnect_interval="0.1")
    )
    sent = [joined(f"u{i}", key=f"k{i % 5}") for i in range(200)]
    await broker.send_many(sent)
    for threshold in (40, 120):
        await eventually(lambda: len(recorder.handled) >= threshold)  # noqa: B023
        proxy.cut()
    await eventually(lambda: len({e.event_id for e in recorder.handled}) == len(sent), 40)
    await harness.stop(consumer)
    assert proxy.accepted >= 3, "the consumer reconnected after each cut"
    for key in {m.key for m in sent}:
        first_copies = dict.fromkeys(e.event_id for e in recorder.handled if e.partition_key == key)
        assert list(first_copies) == [m.message_id for m in sent if m.key == key]
    assert await harness.ready_count() == 0


async def test_stop_returns_during_an_outage_and_nothing_is_lost(
    harness: Harness, broker: RabbitMQMessageBroker, proxy: Any
) -> None:
    recorder = Recorder()
    consumer = await harness.start(
        dispatcher(recorder), url=proxy.url_for(harness.url, reconnect_interval="0.1")
    )
    await broker.send_message(joined("u1"))
    await eventually(lambda: consumer.handled == 1)
    proxy.down()  # cut, and refuse reconnects
    await broker.send_message(joined("u2"))
    await harness.stop(consumer)
    proxy.up()

    second = Recorder()
    successor = await harness.start(dispatcher(second))
    await eventually(lambda: "u2" in second.user_ids)
    await harness.stop(successor)
    assert recorder.user_ids == ["u1"]
    # u1's ack may have been on its way when the connection was cut: at least once, in order.
    assert second.user_ids in (["u2"], ["u1", "u2"])


async def test_concurrency_spreads_keys_over_workers_and_keeps_each_key_in_order(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    recorder = Recorder(delay=0.002)
    recorder.delays = {"u0": 0.1}  # the other keys get ahead of k0 meanwhile
    consumer = await harness.start(dispatcher(recorder), concurrency=4, prefetch=40)
    sent = [joined(f"u{i}", key=f"k{i % 7}") for i in range(120)]
    await broker.send_many(sent)
    await eventually(lambda: consumer.handled == len(sent))
    await harness.stop(consumer)
    assert 1 < recorder.max_in_flight <= 4
    assert recorder.max_key_in_flight == 1
    for key in {m.key for m in sent}:
        assert [e.event_id for e in recorder.handled if e.partition_key == key] == [
            m.message_id for m in sent if m.key == key
        ]


async def test_a_dead_letter_that_cannot_be_published_holds_the_queue_until_it_can(
    harness: Harness, broker: RabbitMQMessageBroker, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    consumer = await harness.start(dispatcher(recorder))
    admin = await harness.admin.channel()
    dead_letter_queue = f"{harness.queue}.dead-letter"
    await admin.queue_delete(dead_letter_queue)  # dead letters are now unroutable
    with caplog.at_level(logging.ERROR, logger="cqrs_rabbitmq.consumer"):
        await broker.send_message(Message(topic=TOPIC, payload=b"{", message_name="UserJoined"))
        await broker.send_message(joined("behind"))
        await eventually(lambda: "could not dead-letter" in caplog.text)
    assert recorder.handled == [], "nothing overtakes the held message"
    restored = await admin.declare_queue(dead_letter_queue, durable=True)
    await restored.bind(harness.dead_letter_exchange, routing_key=harness.queue)
    await admin.close()

    [dead] = await harness.dead_letters(1)
    await eventually(lambda: recorder.user_ids == ["behind"])
    assert dead.body == b"{"
    assert consumer.dead_lettered == 1
    await harness.stop(consumer)
    assert await harness.ready_count() == 0


async def test_run_fails_when_the_topology_conflicts_and_wait_started_says_so(
    harness: Harness,
) -> None:
    admin = await harness.admin.channel()
    await admin.declare_exchange(harness.dead_letter_exchange, "fanout", durable=True)
    await admin.close()
    consumer = RabbitMQEventConsumer(
        harness.url,
        harness.queue,
        "users.*",
        dispatcher(Recorder()),
        exchange=harness.exchange,
        dead_letter_exchange=harness.dead_letter_exchange,
    )
    run = asyncio.create_task(consumer.run())
    async with asyncio.timeout(15):
        with pytest.raises(RuntimeError, match="ended before it started"):
            await consumer.wait_started()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await run
    with pytest.raises(RuntimeError, match="runs once"):
        await consumer.run()


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RabbitMQEventConsumer("amqp://x/", "q", ["a"], dispatcher(Recorder()), concurrency=0)
    consumer = RabbitMQEventConsumer(
        "amqp://guest:secret@host/", "q", "a.*", dispatcher(Recorder())
    )
    assert consumer.routing_keys == ["a.*"]
    assert consumer.dead_letter_queue == "q.dead-letter"
    assert "secret" not in repr(consumer)


# --- failure modes (docs/rabbitmq.md, "When things go wrong") ------------------------------


async def test_deeply_nested_json_is_dead_lettered_and_the_queue_keeps_flowing(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    """10 KB of `[` made the old dispatcher raise RecursionError: the worker died, `run()`
    ended, and a restarted consumer met the redelivered message again (a crash loop)."""
    recorder = Recorder()
    consumer = await harness.start(dispatcher(recorder))
    deep = Message(topic=TOPIC, payload=b"[" * 5000 + b"]" * 5000, message_name="UserJoined")
    sent: list[Message] = []
    for index in range(10):
        sent.append(joined(f"u{index}"))
        if index % 5 == 0:
            sent.append(deep)
    await broker.send_many(sent)

    dead = await harness.dead_letters(2)
    await eventually(lambda: consumer.handled == 10)
    await harness.stop(consumer)
    assert recorder.user_ids == [f"u{i}" for i in range(10)], "each once, in order"
    for letter in dead:
        assert letter.body == deep.payload
        reason = str(letter.headers[DEAD_LETTER_REASON_HEADER])
        assert "JSON nesting exceeds the limit of 100 levels" in reason
    assert await harness.ready_count() == 0


async def test_malformed_id_and_timestamp_headers_are_dead_lettered(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    recorder = Recorder()
    consumer = await harness.start(dispatcher(recorder))
    body = joined("x").payload
    for headers in ({"event-id": "42"}, {"event-timestamp": "noon"}):
        await broker.send_message(
            Message(topic=TOPIC, payload=body, message_name="UserJoined", extra_headers=headers)
        )
    await broker.send_message(joined("after"))
    bad_id, bad_stamp = await harness.dead_letters(2)
    await eventually(lambda: recorder.user_ids == ["after"])
    await harness.stop(consumer)
    assert "invalid message headers" in str(bad_id.headers[DEAD_LETTER_REASON_HEADER])
    assert "UUID" in str(bad_id.headers[DEAD_LETTER_REASON_HEADER])
    assert "isoformat" in str(bad_stamp.headers[DEAD_LETTER_REASON_HEADER])


async def test_headers_too_large_to_copy_are_dropped_from_the_dead_letter(
    harness: Harness, rabbitmq_url: str
) -> None:
    """120 KB of headers fit one frame, but the old dead-letter copy (plus the reason) did not:
    RabbitMQ closed the connection on every attempt and the message was redelivered forever."""
    recorder = Recorder()
    consumer = await harness.start(dispatcher(recorder))
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(harness.exchange)
        await exchange.publish(
            aio_pika.Message(b"{oops", headers={"x-junk": "j" * 120_000}), routing_key=TOPIC
        )
        await exchange.publish(
            aio_pika.Message(joined("after").payload, headers=joined("after").headers()),
            routing_key=TOPIC,
        )
    [dead] = await harness.dead_letters(1)
    await eventually(lambda: recorder.user_ids == ["after"])
    await harness.stop(consumer)
    assert dead.body == b"{oops"
    assert "x-junk" not in dead.headers
    assert str(dead.headers["dead-letter-truncated"]).startswith("headers=")
    assert "not valid application/json" in str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert dead.headers["original-routing-key"] == TOPIC


async def test_a_destination_fault_holds_the_message_until_it_clears(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    """The old dispatcher dead-lettered after `handler_attempts` ConnectionErrors."""
    recorder = Recorder()
    recorder.unavailable = ConnectionRefusedError(111, "seat service refused the connection")
    subject = dispatcher(
        recorder, handler_attempts=2, destination_backoff=ExponentialBackoff(base=0.01, cap=0.02)
    )
    consumer = await harness.start(subject)
    await broker.send_many([joined("u1"), joined("boom"), joined("u2")])
    await eventually(lambda: recorder.refused >= 10)
    assert (consumer.handled, consumer.dead_lettered) == (0, 0)
    recorder.unavailable = None
    [dead] = await harness.dead_letters(1)
    await eventually(lambda: consumer.handled == 2)
    await harness.stop(consumer)
    assert recorder.user_ids == ["u1", "u2"]
    assert recorder.calls["u1"] == 1
    assert "after 2 attempt(s)" in str(dead.headers[DEAD_LETTER_REASON_HEADER])
    assert consumer.dead_lettered == 1


async def test_stop_during_an_outage_returns_and_leaves_the_message_queued(
    harness: Harness, broker: RabbitMQMessageBroker
) -> None:
    recorder = Recorder()
    recorder.unavailable = ConnectionResetError("database connection lost")
    subject = dispatcher(recorder, destination_backoff=ExponentialBackoff(base=60))
    consumer = await harness.start(subject, shutdown_timeout=600)
    await broker.send_message(joined("u1"))
    await eventually(lambda: recorder.refused >= 1)
    await harness.stop(consumer)  # bounded by the harness's 20 s, not shutdown_timeout
    assert consumer.dead_lettered == 0

    recorder.unavailable = None
    successor = await harness.start(dispatcher(recorder))
    await eventually(lambda: recorder.user_ids == ["u1"])
    await harness.stop(successor)


@pytest.mark.parametrize(
    ("netloc", "message"),
    [
        ("guest:guest@127.0.0.1:{closed}", "cannot connect to RabbitMQ at amqp://guest:***@"),
        ("guest:not-the-password@{rabbit}", "refused the credentials"),
    ],
)
async def test_start_fails_with_one_clear_error(
    rabbitmq_url: str, netloc: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The old consumer's `wait_started` said only "ended before it started consuming" and
    `run()` raised aiormq's own errors."""
    import socket
    from urllib.parse import urlsplit

    from cqrs.exceptions import DestinationUnavailableError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    url = (
        "amqp://"
        + netloc.format(closed=closed, rabbit=urlsplit(rabbitmq_url).netloc.split("@")[-1])
        + "/"
    )
    consumer = RabbitMQEventConsumer(url, "q", ["a.*"], dispatcher(Recorder()))
    run = asyncio.create_task(consumer.run())
    async with asyncio.timeout(30):
        with pytest.raises(DestinationUnavailableError, match=re.escape(message)) as raised:
            await consumer.wait_started()
        with pytest.raises(DestinationUnavailableError):
            await run
    text = str(raised.value)
    assert "\n" not in text
    assert "not-the-password" not in text
    assert "not-the-password" not in caplog.text


async def test_a_lost_connection_is_logged_once_and_consuming_resumes(
    harness: Harness, broker: RabbitMQMessageBroker, proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()

    def ours(word: str) -> int:
        return sum(
            word in r.getMessage() for r in caplog.records if r.name == "cqrs_rabbitmq.consumer"
        )

    with caplog.at_level(logging.WARNING, logger="cqrs_rabbitmq.consumer"):
        consumer = await harness.start(
            dispatcher(recorder), url=proxy.url_for(harness.url, reconnect_interval="0.1")
        )
        await broker.send_message(joined("u1"))
        await eventually(lambda: consumer.handled == 1)
        proxy.down()
        await eventually(lambda: ours("lost") == 1)
        await asyncio.sleep(0.5)  # several reconnect attempts fail meanwhile
        proxy.up()
        await eventually(lambda: ours("restored") == 1)
        await broker.send_message(joined("u2"))
        await eventually(lambda: "u2" in recorder.user_ids)
        await harness.stop(consumer)
    assert (ours("lost"), ours("restored")) == (1, 1)
