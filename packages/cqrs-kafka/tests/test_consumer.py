"""`KafkaEventConsumer` against tansu: handling, dead letters, commits, order and the inbox."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

import cqrs
from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumer import MessageDispatcher
from cqrs.events.bootstrap import bootstrap
from cqrs_kafka import KafkaEventConsumer, KafkaMessageBroker, KafkaProducer
from cqrs_kafka.testing import TansuBroker
from cqrs_kafka.transport import _message_from_record

ReadTopic = Callable[..., Awaitable[list[Any]]]
Topic = Callable[[str], str]
Headers = Sequence[tuple[str, bytes]]

FAST = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
"""tansu answers a group's first join after about half the session timeout: keep it short."""


class Seat(cqrs.Response):
    seat: str
    n: int


SeatBooked = cqrs.NotificationEvent[Seat]


def event(topic: str, n: int, key: str = "k", seat: str | None = None) -> SeatBooked:
    return SeatBooked(
        event_name="SeatBooked",
        topic=topic,
        payload=Seat(seat=seat if seat is not None else f"s{n}", n=n),
        partition_key=key,
    )


def dispatcher_calling(
    callback: Callable[[SeatBooked], Awaitable[None]], **options: Any
) -> MessageDispatcher:
    """A dispatcher whose `SeatBooked` handler awaits `callback(event)`."""

    class Handler(cqrs.EventHandler[SeatBooked]):
        async def handle(self, event: SeatBooked) -> None:
            await callback(event)

    mediator = bootstrap(events_mapper=lambda m: m.bind(SeatBooked, Handler))
    return MessageDispatcher(mediator, {"SeatBooked": SeatBooked}, **options)


def recorder(seen: list[int]) -> Callable[[SeatBooked], Awaitable[None]]:
    async def record(event: SeatBooked) -> None:
        seen.append(event.payload.n)

    return record


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until `condition()` holds; `TimeoutError` after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def producer(tansu: TansuBroker) -> AsyncIterator[KafkaProducer]:
    producer = KafkaProducer(tansu.bootstrap_servers)
    yield producer
    await producer.stop()


async def publish(producer: KafkaProducer, records: Sequence[tuple[str, bytes, Headers]]) -> None:
    """Send raw `(key, value, headers)` records, in order, to `topic` and wait for acks."""
    for topic_key, value, headers in records:
        topic, _, key = topic_key.partition("|")
        await (await producer.send(topic, value, key=key.encode(), headers=headers))


def raw(message: Message) -> tuple[str, bytes, Headers]:
    """The raw record `KafkaMessageBroker` would send for `message`."""
    headers = [(name, value.encode()) for name, value in message.headers().items()]
    return f"{message.topic}|{message.key}", message.payload, headers


async def publish_events(producer: KafkaProducer, events: Sequence[SeatBooked]) -> None:
    await KafkaMessageBroker(producer).send_many(Message.from_event(e) for e in events)


@asynccontextmanager
async def running(consumer: KafkaEventConsumer) -> AsyncIterator[asyncio.Task[None]]:
    """Run `consumer` in a task; stop it and wait (bounded) for `run()` to return at the end."""
    task = asyncio.create_task(consumer.run())
    try:
        await consumer.wait_started()
        yield task
    finally:
        consumer.stop()
        async with asyncio.timeout(20):
            await asyncio.gather(task, return_exceptions=True)
    task.result()


def make_consumer(
    tansu: TansuBroker, topic: str, group: str, dispatcher: MessageDispatcher, **options: Any
) -> KafkaEventConsumer:
    return KafkaEventConsumer(
        tansu.bootstrap_servers, [topic], group, dispatcher, consumer_options=FAST, **options
    )


async def committed(tansu: TansuBroker, group: str, tp: TopicPartition) -> int | None:
    reader = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap_servers, group_id=group, **FAST)
    await reader.start()
    try:
        offset: int | None = await reader.committed(tp)
        return offset
    finally:
        await reader.stop()


async def test_hostile_records_are_dead_lettered_and_good_ones_after_them_handled(
    tansu: TansuBroker, producer: KafkaProducer, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("hostile")
    group = f"g-{uuid.uuid4().hex}"
    good_first = raw(Message.from_event(event(topic, 0)))
    valid = raw(Message.from_event(event(topic, 5)))
    wrong_types = event(topic, 3).to_dict()
    wrong_types["payload"] = {"seat": 5, "n": "three"}
    unknown = event(topic, 2).to_dict()
    unknown["event_name"] = "SeatSold"
    hostile: list[tuple[str, bytes, Headers, str]] = [
        (
            f"{topic}|k",
            b'{"event_name": "SeatBooked"',
            [("event-type", b"SeatBooked")],
            "payload is not valid application/json",
        ),
        (f"{topic}|k", json.dumps(unknown).encode(), [], "unknown event 'SeatSold'"),
        (f"{topic}|k", json.dumps(wrong_types).encode(), [], "invalid SeatBooked"),
        (
            f"{topic}|k",
            Message.from_event(event(topic, 4, seat="x" * 4096)).payload,
            [("event-type", b"SeatBooked")],
            "exceeds the limit of 2048 bytes",
        ),
        (
            f"{topic}|k",
            valid[1],
            [*valid[2], ("x-note", b"\xff\xfe not utf-8")],
            "header 'x-note' is not valid UTF-8",
        ),
        (
            f"{topic}|k",
            valid[1],
            [("event-type", b"SeatBooked"), ("event-id", b"not-a-uuid")],
            "invalid message headers",
        ),
    ]
    failing = raw(Message.from_event(event(topic, 6)))
    hostile.append((*failing, "handler failed after 1 attempt(s): RuntimeError: seat 6 is gone"))
    good_last = raw(Message.from_event(event(topic, 7)))
    await publish(producer, [good_first, *(r[:3] for r in hostile), good_last])

    seen: list[int] = []

    async def handle(e: SeatBooked) -> None:
        if e.payload.n == 6:
            raise RuntimeError("seat 6 is gone")
        seen.append(e.payload.n)

    dispatcher = dispatcher_calling(handle, max_message_bytes=2048, handler_attempts=1)
    consumer = make_consumer(tansu, topic, group, dispatcher)
    async with running(consumer):
        await until(lambda: consumer.commits == 9)

    assert seen == [0, 7]
    assert (consumer.handled, consumer.dead_lettered, consumer.duplicates) == (2, 7, 0)
    (source,) = await read_topic(topic, 1)
    letters = await read_topic(f"{topic}.dead-letter", 7)
    for offset, (letter, (_, value, headers, reason)) in enumerate(
        zip(letters, hostile, strict=True), 1
    ):
        got = dict(letter.headers)
        assert reason in got["dead-letter-reason"].decode()
        assert got["original-topic"] == topic.encode()
        assert got["original-partition"] == str(source.partition).encode()
        assert got["original-offset"] == str(offset).encode()
        assert (letter.key, letter.value) == (b"k", value)
        assert set(headers) <= set(letter.headers)
    assert await committed(tansu, group, TopicPartition(topic, source.partition)) == 9


async def test_only_handled_records_are_committed_when_stopped_mid_message(
    tansu: TansuBroker, producer: KafkaProducer, unique_topic: Topic
) -> None:
    topic = unique_topic("redeliver")
    group = f"g-{uuid.uuid4().hex}"
    await publish_events(producer, [event(topic, n) for n in range(3)])
    entered, never = asyncio.Event(), asyncio.Event()
    first: list[int] = []

    async def block_on_one(e: SeatBooked) -> None:
        if e.payload.n == 1:
            entered.set()
            await never.wait()
        first.append(e.payload.n)

    consumer = make_consumer(
        tansu, topic, group, dispatcher_calling(block_on_one), shutdown_timeout=0.2
    )
    async with running(consumer):
        async with asyncio.timeout(20):
            await entered.wait()
    assert first == [0]
    assert consumer.commits == 1

    second: list[int] = []
    again = make_consumer(tansu, topic, group, dispatcher_calling(recorder(second)))
    async with running(again):
        await until(lambda: len(second) == 2)
    assert second == [1, 2]


async def test_stop_finishes_and_commits_the_message_in_hand(
    tansu: TansuBroker, producer: KafkaProducer, unique_topic: Topic
) -> None:
    topic = unique_topic("graceful")
    group = f"g-{uuid.uuid4().hex}"
    await publish_events(producer, [event(topic, n) for n in range(2)])
    entered, release = asyncio.Event(), asyncio.Event()
    first: list[int] = []

    async def slow(e: SeatBooked) -> None:
        entered.set()
        await release.wait()
        first.append(e.payload.n)

    consumer = make_consumer(tansu, topic, group, dispatcher_calling(slow))
    task = asyncio.create_task(consumer.run())
    async with asyncio.timeout(20):
        await entered.wait()
    consumer.stop()
    await asyncio.sleep(0.1)
    assert not task.done()  # still finishing the message in hand
    release.set()
    async with asyncio.timeout(20):
        await task
    assert first == [0]
    assert consumer.commits == 1

    second: list[int] = []
    again = make_consumer(tansu, topic, group, dispatcher_calling(recorder(second)))
    async with running(again):
        await until(lambda: len(second) >= 1)
    assert second == [1]


async def test_events_of_each_key_are_handled_in_order_across_partitions(
    tansu: TansuBroker, producer: KafkaProducer, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("order")
    keys = [f"seat-{i}" for i in range(10)]
    events = [event(topic, n, key=keys[n % len(keys)]) for n in range(200)]
    await publish_events(producer, events)
    seen: dict[str, list[int]] = {}

    async def record(e: SeatBooked) -> None:
        await asyncio.sleep(random.uniform(0, 0.002))
        assert e.partition_key is not None
        seen.setdefault(e.partition_key, []).append(e.payload.n)

    consumer = make_consumer(tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher_calling(record))
    async with running(consumer):
        await until(lambda: sum(map(len, seen.values())) == 200, timeout=40)

    assert seen == {key: list(range(i, 200, len(keys))) for i, key in enumerate(keys)}
    assert consumer.commits == 200
    assert len({record.partition for record in await read_topic(topic, 200)}) > 1


async def test_a_rebalance_hands_partitions_over_without_loss_duplicates_or_reordering(
    tansu: TansuBroker, producer: KafkaProducer, unique_topic: Topic
) -> None:
    """The first consumer handles one record at a time (400 records, 10 ms each), so it is
    still busy when the second one's join completes (tansu answers a join after about a
    second): before, it could drain all 200 records first and the second handled none."""
    topic = unique_topic("rebalance")
    group = f"g-{uuid.uuid4().hex}"
    keys = [f"seat-{i}" for i in range(8)]
    await publish_events(producer, [event(topic, n, key=keys[n % len(keys)]) for n in range(400)])
    handled: list[tuple[str, int]] = []

    async def record(e: SeatBooked) -> None:
        await asyncio.sleep(0.01)
        assert e.partition_key is not None
        handled.append((e.partition_key, e.payload.n))

    first = make_consumer(
        tansu, topic, group, dispatcher_calling(record), max_batch=10, max_concurrent_partitions=1
    )
    second = make_consumer(tansu, topic, group, dispatcher_calling(record), max_batch=10)
    async with running(first):
        await until(lambda: len(handled) >= 20)
        async with running(second):
            await until(lambda: len(handled) >= 400, timeout=40)

    assert sorted(n for _, n in handled) == list(range(400))  # each once
    for i, key in enumerate(keys):
        assert [n for k, n in handled if k == key] == list(range(i, 400, len(keys)))
    assert first.handled > 0
    assert second.handled > 0


async def test_inbox_turns_a_consumed_again_event_into_a_duplicate(
    tansu: TansuBroker, producer: KafkaProducer, unique_topic: Topic
) -> None:
    topic = unique_topic("inbox")
    await publish_events(producer, [event(topic, n) for n in range(5)])
    effects: list[int] = []
    dispatcher = dispatcher_calling(
        recorder(effects), inbox=cqrs.MemoryInbox(), consumer_name="seat-counter"
    )

    first = make_consumer(tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher)
    async with running(first):
        await until(lambda: first.commits == 5)
    # A new group starts from the earliest offset: every event arrives a second time.
    second = make_consumer(tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher)
    async with running(second):
        await until(lambda: second.commits == 5)

    assert effects == [0, 1, 2, 3, 4]
    assert (first.handled, first.duplicates) == (5, 0)
    assert (second.handled, second.duplicates) == (0, 5)


class FlakyProducer(KafkaProducer):
    """Refuses the first `failures` sends (all of them when `failures` is None)."""

    def __init__(self, bootstrap_servers: str, failures: int | None) -> None:
        super().__init__(bootstrap_servers)
        self.failures = failures
        self.refused = 0

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> Awaitable[Any]:
        if self.failures is None or self.refused < self.failures:
            self.refused += 1
            raise ConnectionError("dead-letter topic unreachable")
        return await super().send(topic, value, key=key, headers=headers)


async def test_a_failing_dead_letter_send_is_retried_before_anything_is_committed(
    tansu: TansuBroker, producer: KafkaProducer, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("dlq-retry")
    bad = (f"{topic}|k", b"not json", [("event-type", b"SeatBooked")])
    await publish(producer, [bad, raw(Message.from_event(event(topic, 1)))])
    seen: list[int] = []
    flaky = FlakyProducer(tansu.bootstrap_servers, failures=3)
    consumer = make_consumer(
        tansu,
        topic,
        f"g-{uuid.uuid4().hex}",
        dispatcher_calling(recorder(seen)),
        producer=flaky,
        retry_backoff=ExponentialBackoff(base=0.01, cap=0.05),
        dead_letter_topic=f"{topic}.dlq",
    )
    try:
        async with running(consumer):
            await until(lambda: seen == [1])
    finally:
        await flaky.stop()

    assert (consumer.dead_letter_failures, consumer.dead_lettered, consumer.commits) == (3, 1, 2)
    (letter,) = await read_topic(f"{topic}.dlq", 1)
    assert letter.value == b"not json"
    assert dict(letter.headers)["original-offset"] == b"0"


async def test_an_undeliverable_dead_letter_is_never_dropped_nor_overtaken(
    tansu: TansuBroker, producer: KafkaProducer, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("dlq-down")
    group = f"g-{uuid.uuid4().hex}"
    await publish(
        producer,
        [
            (f"{topic}|k", b"[1, 2]", [("event-type", b"SeatBooked")]),
            raw(Message.from_event(event(topic, 1))),
        ],
    )
    seen: list[int] = []
    down = FlakyProducer(tansu.bootstrap_servers, failures=None)
    stuck = make_consumer(
        tansu,
        topic,
        group,
        dispatcher_calling(recorder(seen)),
        producer=down,
        retry_backoff=ExponentialBackoff(base=0.01, cap=0.05),
    )
    async with running(stuck):
        await until(lambda: stuck.dead_letter_failures >= 3)
    assert (seen, stuck.commits, stuck.dead_lettered) == ([], 0, 0)

    healed = make_consumer(tansu, topic, group, dispatcher_calling(recorder(seen)))
    async with running(healed):
        await until(lambda: seen == [1])
    (letter,) = await read_topic(f"{topic}.dead-letter", 1)
    assert letter.value == b"[1, 2]"
    assert b"must be an object" in dict(letter.headers)["dead-letter-reason"]
    assert healed.commits == 2


class _Record:
    def __init__(self, headers: Headers, key: bytes | None = b"k") -> None:
        self.topic, self.value, self.key, self.headers = "t", b"{}", key, headers


def test_a_record_is_rebuilt_into_a_message_from_its_headers() -> None:
    event_id = uuid.uuid4()
    message = _message_from_record(
        _Record([("event-type", b"SeatBooked"), ("event-id", str(event_id).encode())])
    )
    assert (message.topic, message.message_name, message.message_id) == (
        "t",
        "SeatBooked",
        event_id,
    )
    assert message.key == "k"  # taken from the Kafka key when no event-key header came
    with pytest.raises(ValueError, match="not valid UTF-8"):
        _message_from_record(_Record([("event-type", b"\xc3")]))
    with pytest.raises(ValueError, match="Invalid isoformat"):
        _message_from_record(_Record([("event-timestamp", b"yesterday")]))


def test_auto_commit_cannot_be_turned_on() -> None:
    dispatcher = dispatcher_calling(recorder([]))
    with pytest.raises(ValueError, match="enable_auto_commit"):
        KafkaEventConsumer(
            "localhost:9092", "t", "g", dispatcher, consumer_options={"enable_auto_commit": True}
        )


def test_importing_the_package_does_not_import_aiokafka() -> None:
    code = (
        "import sys, cqrs_kafka; assert 'aiokafka' not in sys.modules; "
        "cqrs_kafka.KafkaEventConsumer; assert 'aiokafka' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- failure modes (docs/kafka.md, "When things go wrong") ---------------------------------


async def test_deeply_nested_json_is_dead_lettered_and_every_partition_keeps_consuming(
    tansu: TansuBroker, producer: KafkaProducer, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    """10 KB of `[` made the old dispatcher raise RecursionError, which cancelled every
    partition's lane and ended `run()`: none of the good records after it were handled."""
    topic = unique_topic("deep")
    keys = [f"k{i}" for i in range(6)]
    deep = b"[" * 5000 + b"]" * 5000
    records = []
    for n in range(12):
        records.append(raw(Message.from_event(event(topic, n, key=keys[n % len(keys)]))))
        if n % 4 == 0:
            records.append((f"{topic}|{keys[n % len(keys)]}", deep, [("event-type", b"Seat")]))
    await publish(producer, records)
    seen: list[int] = []
    consumer = make_consumer(
        tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher_calling(recorder(seen))
    )
    async with running(consumer):
        await until(lambda: consumer.commits == 15)

    assert sorted(seen) == list(range(12)), "each good record handled exactly once"
    assert (consumer.handled, consumer.dead_lettered) == (12, 3)
    letters = await read_topic(f"{topic}.dead-letter", 3)
    for letter in letters:
        assert letter.value == deep
        reason = dict(letter.headers)["dead-letter-reason"].decode()
        assert "JSON nesting exceeds the limit of 100 levels" in reason


async def test_malformed_id_and_timestamp_headers_are_dead_lettered_with_the_reason(
    tansu: TansuBroker, producer: KafkaProducer, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    topic = unique_topic("headers")
    good = raw(Message.from_event(event(topic, 1)))
    bad_id = (good[0], good[1], [("event-type", b"SeatBooked"), ("event-id", b"42")])
    bad_stamp = (good[0], good[1], [("event-type", b"SeatBooked"), ("event-timestamp", b"noon")])
    await publish(producer, [bad_id, bad_stamp, good])
    seen: list[int] = []
    consumer = make_consumer(
        tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher_calling(recorder(seen))
    )
    async with running(consumer):
        await until(lambda: consumer.commits == 3)
    assert seen == [1]
    reasons = [
        dict(letter.headers)["dead-letter-reason"].decode()
        for letter in await read_topic(f"{topic}.dead-letter", 2)
    ]
    assert all("invalid message headers" in reason for reason in reasons)
    assert "UUID" in reasons[0]
    assert "isoformat" in reasons[1]


async def test_a_record_over_a_mebibyte_is_dead_lettered_truncated_with_its_coordinates(
    tansu: TansuBroker, read_topic: ReadTopic, unique_topic: Topic
) -> None:
    """The old consumer's dead-letter producer refused the 1.5 MiB copy (MessageSizeTooLarge)
    and retried forever, holding the partition: the good record behind it never came."""
    topic = unique_topic("huge")
    huge = b'{"event_name": "SeatBooked", "pad": "' + b"x" * (1536 * 1024) + b'"}'
    big_producer = KafkaProducer(tansu.bootstrap_servers, max_request_size=4 * 1024 * 1024)
    try:
        await publish(
            big_producer,
            [
                (f"{topic}|seat-9", huge, [("event-type", b"SeatBooked"), ("x-trace", b"t1")]),
                raw(Message.from_event(event(topic, 1, key="seat-9"))),
            ],
        )
    finally:
        await big_producer.stop()
    seen: list[int] = []
    consumer = make_consumer(
        tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher_calling(recorder(seen))
    )
    async with running(consumer):
        await until(lambda: seen == [1] and consumer.commits == 2)
    assert (consumer.dead_lettered, consumer.truncated_dead_letters) == (1, 1)
    (letter,) = await read_topic(f"{topic}.dead-letter", 1)
    headers = dict(letter.headers)
    assert letter.key == b"seat-9"
    assert letter.value == huge[: 16 * 1024]
    assert headers["dead-letter-truncated"] == f"value={len(huge)}".encode()
    assert b"exceeds the limit of 1048576 bytes" in headers["dead-letter-reason"]
    assert headers["original-topic"] == topic.encode()
    assert headers["original-offset"] == b"0"
    (source,) = await read_topic(topic, 1)
    assert headers["original-partition"] == str(source.partition).encode()
    assert headers["x-trace"] == b"t1"


async def test_a_destination_fault_in_a_handler_is_waited_out_never_dead_lettered(
    tansu: TansuBroker, producer: KafkaProducer, unique_topic: Topic
) -> None:
    """The old dispatcher dead-lettered a record whose handler met ConnectionError
    `handler_attempts` times; now the record is held until the service answers again."""
    topic = unique_topic("outage")
    await publish_events(producer, [event(topic, n) for n in range(3)])
    service_up = asyncio.Event()
    refused = 0
    seen: list[int] = []

    async def call_service(e: SeatBooked) -> None:
        nonlocal refused
        if not service_up.is_set():
            refused += 1
            raise ConnectionRefusedError(111, "billing service refused the connection")
        if e.payload.n == 2:
            raise LookupError("seat 2 does not exist")  # a message fault: dead-lettered
        seen.append(e.payload.n)

    dispatcher = dispatcher_calling(
        call_service,
        handler_attempts=2,
        backoff=ExponentialBackoff(base=0.001, cap=0.002),
        destination_backoff=ExponentialBackoff(base=0.01, cap=0.02),
    )
    consumer = make_consumer(tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher)
    async with running(consumer):
        await until(lambda: refused >= 10)
        assert (consumer.commits, consumer.dead_lettered) == (0, 0)
        assert dispatcher.destination_unavailable
        service_up.set()
        await until(lambda: consumer.commits == 3)
    assert seen == [0, 1]
    assert (consumer.handled, consumer.dead_lettered) == (2, 1)


async def test_stop_during_an_outage_leaves_the_held_record_uncommitted(
    tansu: TansuBroker, producer: KafkaProducer, unique_topic: Topic
) -> None:
    topic = unique_topic("outage-stop")
    group = f"g-{uuid.uuid4().hex}"
    await publish_events(producer, [event(topic, 0)])
    attempts = 0

    async def down(e: SeatBooked) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionResetError("database connection lost")

    dispatcher = dispatcher_calling(down, destination_backoff=ExponentialBackoff(base=60))
    consumer = make_consumer(tansu, topic, group, dispatcher, shutdown_timeout=600)
    async with running(consumer):
        await until(lambda: attempts >= 1)
    assert (consumer.commits, consumer.dead_lettered) == (0, 0)

    seen: list[int] = []
    again = make_consumer(tansu, topic, group, dispatcher_calling(recorder(seen)))
    async with running(again):
        await until(lambda: seen == [0])


async def test_start_against_an_unreachable_cluster_fails_with_one_clear_error() -> None:
    """The old consumer's `wait_started` said only "ended before it started consuming" and
    `run()` raised aiokafka's KafkaConnectionError."""
    from cqrs.exceptions import DestinationUnavailableError
    from cqrs.testing._support.services import service_reachable

    port = _closed_port()
    assert not service_reachable("127.0.0.1", port)
    consumer = KafkaEventConsumer(f"127.0.0.1:{port}", ["t"], "g", dispatcher_calling(recorder([])))
    run = asyncio.create_task(consumer.run())
    async with asyncio.timeout(30):
        with pytest.raises(
            DestinationUnavailableError, match=f"cannot connect to Kafka at 127.0.0.1:{port}"
        ):
            await consumer.wait_started()
        with pytest.raises(DestinationUnavailableError) as raised:
            await run
    assert "\n" not in str(raised.value)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_after_a_broker_restart_the_consumer_reconnects_and_consumes_again(
    unique_topic: Topic,
) -> None:
    """tansu restarted on the same port (its memory storage starts empty, so this shows only
    that the consumer reconnects, not that records survive): records sent afterwards are
    handled by the same running consumer."""
    topic = unique_topic("restart")
    seen: list[int] = []
    with TansuBroker() as tansu:
        producer = KafkaProducer(tansu.bootstrap_servers)
        try:
            await publish_events(producer, [event(topic, 0)])
            consumer = make_consumer(
                tansu, topic, f"g-{uuid.uuid4().hex}", dispatcher_calling(recorder(seen))
            )
            async with running(consumer):
                await until(lambda: seen == [0])
                tansu.restart()
                await producer.stop()  # its metadata names topics the new broker lacks
                async with asyncio.timeout(30):
                    while True:
                        try:
                            await publish_events(producer, [event(topic, 1)])
                            break
                        except KafkaError:
                            await asyncio.sleep(0.5)
                await until(lambda: 1 in seen, timeout=60)
        finally:
            await producer.stop()
    assert seen[:1] == [0]
    assert 1 in seen
