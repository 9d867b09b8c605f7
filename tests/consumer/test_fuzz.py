"""Hostile input never stops a consumer: hypothesis-generated messages through every runner.

Deep nesting, oversized and truncated payloads, malformed `event-id` / `event-timestamp` /
`event-type` headers, headers that are not UTF-8, wrong content types, random bytes and random
JSON, mixed with valid events, go through the `MessageDispatcher`, `EventDecoder`,
`KafkaEventConsumer` (tansu: it has the consumer groups, commits and headers this needs), the
`RabbitMQEventConsumer` and a FastStream `subscribe_events` subscriber on RabbitMQ. Every valid
event is handled exactly once, every message is accounted for (handled, or dead-lettered with
a reason), hostile ones are dead-lettered, and nothing raises out of a runner.

`CQRS_FUZZ_CASES` sets the cases per runner: a few hundred in the normal test run, 10,000 in
`nox -s fuzz`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cqrs
from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumer import MessageDispatcher, Outcome, Verdict
from cqrs.events.bootstrap import bootstrap
from cqrs.testing._support.services import require_service

CASES = int(os.environ.get("CQRS_FUZZ_CASES", "300"))
"""Hostile messages per runner."""

LIMIT = 64 * 1024
"""The fuzzed dispatchers' `max_message_bytes`."""

pytestmark = pytest.mark.timeout(max(60, CASES // 10))

T = TypeVar("T")


class Seat(cqrs.Response):
    seat: str
    n: int


SeatBooked = cqrs.NotificationEvent[Seat]


@dataclasses.dataclass(frozen=True)
class Case:
    """One message to feed a runner and what must become of it."""

    kind: str
    payload: bytes
    headers: tuple[tuple[str, str | bytes], ...]
    expect: str
    """`handled`, `dead` (dead-lettered with a reason) or `either`."""
    event_id: uuid.UUID | None = None

    def expected(self, transport: str) -> str:
        """What must happen on `transport`: headers that are not UTF-8 are unusable on Kafka
        (whose headers are bytes) but are read leniently where headers are typed."""
        if self.kind == "non-utf8-header" and transport != "kafka":
            return "either"
        return self.expect

    def text_headers(self) -> dict[str, str | bytes]:
        return dict(self.headers)

    def amqp_headers(self, index: int) -> dict[str, Any]:
        """The headers as an AMQP table (bytes as a byte array), plus the case index."""
        table: dict[str, Any] = {
            k: bytearray(v) if isinstance(v, bytes) else v for k, v in self.headers
        }
        table["x-case"] = str(index)
        return table

    def byte_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v if isinstance(v, bytes) else v.encode()) for k, v in self.headers]


def _good_parts(seat: str, event_id: uuid.UUID) -> tuple[bytes, dict[str, str]]:
    event = SeatBooked(
        event_name="SeatBooked",
        topic="fuzz",
        payload=Seat(seat=seat, n=len(seat)),
        event_id=event_id,
    )
    message = Message.from_event(event)
    return message.payload, message.headers()


def _parses(parse: Callable[[str], object], value: str) -> bool:
    if not value:
        return True  # an empty header counts as absent
    try:
        parse(value)
    except ValueError:
        return False
    return True


seats = st.text(max_size=30)
garbage = st.text(max_size=60)


@st.composite
def good(draw: st.DrawFn) -> Case:
    event_id = uuid.uuid4()  # unique: each valid event must be handled once
    payload, headers = _good_parts(draw(seats), event_id)
    return Case("good", payload, tuple(headers.items()), "handled", event_id)


@st.composite
def deep(draw: st.DrawFn) -> Case:
    depth = draw(st.integers(101, 20_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"b":', b"}]")]))
    middle = b"1" if opener.endswith(b":") else b""
    closing = closer * depth if draw(st.booleans()) else b""
    payload = opener * depth + middle + closing
    return Case("deep", payload, (("event-type", "SeatBooked"),), "dead")


@st.composite
def huge(draw: st.DrawFn) -> Case:
    size = draw(st.integers(LIMIT + 1, 2 * LIMIT))
    payload = b'{"event_name": "SeatBooked", "pad": "' + b"x" * size + b'"}'
    return Case("huge", payload, (("event-type", "SeatBooked"),), "dead")


@st.composite
def truncated(draw: st.DrawFn) -> Case:
    payload, headers = _good_parts(draw(seats), uuid.uuid4())
    cut = draw(st.integers(0, len(payload) - 1))
    return Case("truncated", payload[:cut], tuple(headers.items()), "dead")


@st.composite
def bad_header(draw: st.DrawFn) -> Case:
    event_id = uuid.uuid4()  # unique: each valid event must be handled once
    payload, headers = _good_parts(draw(seats), event_id)
    name = draw(st.sampled_from(["event-id", "event-timestamp", "event-type"]))
    value = draw(garbage)
    headers[name] = value
    if name == "event-id":
        ok = _parses(uuid.UUID, value)
    elif name == "event-timestamp":
        ok = _parses(datetime.datetime.fromisoformat, value)
    else:
        ok = value in ("", "SeatBooked")
    return Case(
        f"bad-{name}", payload, tuple(headers.items()), "handled" if ok else "dead", event_id
    )


@st.composite
def content_type(draw: st.DrawFn) -> Case:
    event_id = uuid.uuid4()  # unique: each valid event must be handled once
    payload, headers = _good_parts(draw(seats), event_id)
    headers["content-type"] = draw(garbage)
    return Case("content-type", payload, tuple(headers.items()), "handled", event_id)


@st.composite
def non_utf8_header(draw: st.DrawFn) -> Case:
    event_id = uuid.uuid4()  # unique: each valid event must be handled once
    payload, headers = _good_parts(draw(seats), event_id)
    junk = b"\xff" + draw(st.binary(max_size=20))
    return Case("non-utf8-header", payload, (*headers.items(), ("x-junk", junk)), "dead")


@st.composite
def big_header(draw: st.DrawFn) -> Case:
    event_id = uuid.uuid4()  # unique: each valid event must be handled once
    payload, headers = _good_parts(draw(seats), event_id)
    value = "h" * draw(st.integers(1, 60_000))
    return Case("big-header", payload, (*headers.items(), ("x-big", value)), "handled", event_id)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@st.composite
def junk(draw: st.DrawFn) -> Case:
    if draw(st.booleans()):
        payload = draw(st.binary(max_size=2000))
    else:
        payload = json.dumps(draw(json_values)).encode()
    event_type = draw(st.sampled_from(["SeatBooked", "", "Unknown"]))
    return Case("junk", payload, (("event-type", event_type),), "either")


hostile = st.one_of(
    good(),
    deep(),
    huge(),
    truncated(),
    bad_header(),
    content_type(),
    non_utf8_header(),
    big_header(),
    junk(),
)
"""Every kind of case, valid events included (about one in nine)."""

GENERATE = settings(
    max_examples=CASES,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def generate(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of `strategy`, drawn by hypothesis (used as a generator for runners
    where every example costs a broker round trip: they run as one batch)."""
    drawn: list[T] = []

    @settings(GENERATE, max_examples=count)
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    while len(drawn) < count:
        collect()
    return drawn[:count]


class Watching(MessageDispatcher):
    """A dispatcher remembering each outcome under the case index the transport carried."""

    def __init__(self, case_of: Callable[[Any], int], **options: Any) -> None:
        self.handled_ids: collections.Counter[uuid.UUID] = collections.Counter()
        seen = self.handled_ids

        class Record(cqrs.EventHandler[SeatBooked]):
            async def handle(self, event: SeatBooked) -> None:
                seen[event.event_id] += 1

        super().__init__(
            bootstrap(events_mapper=lambda m: m.bind(SeatBooked, Record)),
            {"SeatBooked": SeatBooked},
            max_message_bytes=LIMIT,
            handler_attempts=1,
            backoff=ExponentialBackoff(base=0.001, cap=0.001),
            **options,
        )
        self.case_of = case_of
        self.outcomes: dict[int, Outcome] = {}

    async def dispatch_from(
        self, convert: Callable[[Any], Message], received: Any, *, stop: Any = None
    ) -> Outcome:
        outcome = await super().dispatch_from(convert, received, stop=stop)
        self.outcomes[self.case_of(received)] = outcome
        return outcome


def check(cases: list[Case], outcomes: dict[int, Outcome], handled: Any, transport: str) -> None:
    """Every case has an outcome fitting its kind, and every valid event was handled once."""
    assert len(outcomes) == len(cases)
    for index, case in enumerate(cases):
        outcome = outcomes[index]
        expected = case.expected(transport)
        context = (case.kind, case.payload[:120], case.headers[:8], outcome)
        assert outcome.verdict in (Verdict.HANDLED, Verdict.DEAD_LETTER), context
        if outcome.verdict is Verdict.DEAD_LETTER:
            assert outcome.reason, context
        if expected == "handled":
            assert outcome.verdict is Verdict.HANDLED, context
            assert handled[case.event_id] == 1, context
        elif expected == "dead":
            assert outcome.verdict is Verdict.DEAD_LETTER, context


def kinds(cases: list[Case]) -> collections.Counter[str]:
    return collections.Counter(case.kind for case in cases)


# --- the dispatcher and the decoder: hypothesis drives them directly (and shrinks) -----------


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_the_dispatcher_never_raises_and_dead_letters_what_is_hostile(
    loop: asyncio.AbstractEventLoop,
) -> None:
    dispatcher = Watching(lambda received: received[0])

    def convert(received: tuple[int, Case]) -> Message:
        case = received[1]
        headers = {}
        for name, value in case.headers:
            if isinstance(value, bytes):
                value = value.decode()  # a transport's own check: not UTF-8 is a ValueError
            headers[name] = value
        return Message.from_headers("fuzz", case.payload, headers)

    cases: list[Case] = []

    @settings(GENERATE)
    @given(hostile)
    def dispatch(case: Case) -> None:
        index = len(cases)
        cases.append(case)
        loop.run_until_complete(dispatcher.dispatch_from(convert, (index, case)))
        check([case], {0: dispatcher.outcomes[index]}, dispatcher.handled_ids, "kafka")

    dispatch()
    assert len(cases) >= CASES * 0.9, len(cases)
    assert set(kinds(cases)) >= {"good", "deep", "huge", "truncated", "junk"}


def test_the_faststream_decoder_never_raises() -> None:
    from faststream.message import StreamMessage

    from cqrs_faststream import EventDecoder

    decoder = EventDecoder({"SeatBooked": SeatBooked}, max_message_bytes=LIMIT)
    count = 0

    @settings(GENERATE)
    @given(hostile)
    def decode(case: Case) -> None:
        nonlocal count
        count += 1
        message = StreamMessage(None, case.payload, headers=case.text_headers())
        event = asyncio.run(decoder(message))
        expected = case.expected("faststream")
        if expected == "handled":
            assert isinstance(event, SeatBooked), case
            assert event.event_id == case.event_id
        elif expected == "dead":
            assert event is None, case

    decode()
    assert count >= CASES * 0.9


# --- the runners: one batch of generated cases through a real broker -------------------------


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return generate(hostile, CASES)


async def until(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    from cqrs_kafka.testing import TansuBroker

    with TansuBroker() as tansu:
        yield tansu.bootstrap_servers


@pytest.mark.kafka
async def test_the_kafka_consumer_survives_hostile_records(kafka: str, cases: list[Case]) -> None:
    from cqrs_kafka import KafkaEventConsumer, KafkaProducer

    topic = f"fuzz-{uuid.uuid4().hex[:10]}"
    producer = KafkaProducer(kafka, max_request_size=8 * 1024 * 1024, linger_ms=5)
    try:
        deliveries = [
            await producer.send(topic, c.payload, key=str(i).encode(), headers=c.byte_headers())
            for i, c in enumerate(cases)
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()

    dispatcher = Watching(lambda record: int(record.key))
    consumer = KafkaEventConsumer(
        kafka,
        [topic],
        f"fuzz-{uuid.uuid4().hex}",
        dispatcher,
        consumer_options={
            "session_timeout_ms": 2000,
            "heartbeat_interval_ms": 500,
            "fetch_max_wait_ms": 50,
        },
        max_batch=500,
    )
    run = asyncio.create_task(consumer.run())
    try:
        await consumer.wait_started()
        await until(lambda: consumer.commits == len(cases), timeout=max(60, CASES / 20))
    finally:
        consumer.stop()
        async with asyncio.timeout(30):
            await run
    check(cases, dispatcher.outcomes, dispatcher.handled_ids, "kafka")
    dead = sum(o.verdict is Verdict.DEAD_LETTER for o in dispatcher.outcomes.values())
    assert consumer.dead_lettered == dead
    assert consumer.handled + consumer.dead_lettered == len(cases)


@pytest.fixture
async def rabbit_names() -> AsyncIterator[str]:
    """A unique name for the test's exchange and queues, all deleted at the end."""
    import aio_pika

    url = require_service("rabbitmq").url
    name = f"cqrs.fuzz.{uuid.uuid4().hex[:10]}"
    yield name
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in (name, f"{name}.dead-letter"):
            await channel.queue_delete(queue)
        for exchange in (name, f"{name}.dlx"):
            await channel.exchange_delete(exchange)


def _case_header(headers: Any) -> int:
    return int((headers or {})["x-case"])


@pytest.mark.rabbitmq
async def test_the_rabbitmq_consumer_survives_hostile_messages(
    rabbit_names: str, cases: list[Case]
) -> None:
    import aio_pika

    from cqrs_rabbitmq import RabbitMQEventConsumer

    url = require_service("rabbitmq").url
    dispatcher = Watching(lambda incoming: _case_header(incoming.headers))
    consumer = RabbitMQEventConsumer(
        url,
        rabbit_names,
        ["fuzz"],
        dispatcher,
        exchange=rabbit_names,
        dead_letter_exchange=f"{rabbit_names}.dlx",
        prefetch=64,
    )
    run = asyncio.create_task(consumer.run())
    try:
        await consumer.wait_started()
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(rabbit_names)
            for index, case in enumerate(cases):
                await exchange.publish(
                    aio_pika.Message(case.payload, headers=case.amqp_headers(index)),
                    routing_key="fuzz",
                )
        await until(
            lambda: consumer.handled + consumer.dead_lettered == len(cases),
            timeout=max(60, CASES / 20),
        )
    finally:
        consumer.stop()
        async with asyncio.timeout(30):
            await run
    check(cases, dispatcher.outcomes, dispatcher.handled_ids, "rabbitmq")
    dead = sum(o.verdict is Verdict.DEAD_LETTER for o in dispatcher.outcomes.values())
    assert consumer.dead_lettered == dead


@pytest.mark.rabbitmq
async def test_a_faststream_subscriber_survives_hostile_messages(
    rabbit_names: str, cases: list[Case]
) -> None:
    from faststream.rabbit import Channel, RabbitBroker, RabbitMessage, RabbitQueue

    from cqrs_faststream import subscribe_events

    url = require_service("rabbitmq").url
    dispatcher = Watching(lambda message: _case_header(message.headers))
    broker = RabbitBroker(url, logger=None, graceful_timeout=5.0)
    source = RabbitQueue(rabbit_names, arguments={"x-expires": 120_000})
    dead_queue = RabbitQueue(f"{rabbit_names}.dead-letter", arguments={"x-expires": 120_000})
    subscribe_events(
        broker,
        source,
        channel=Channel(prefetch_count=64),
        dispatcher=dispatcher,
        dead_letter=broker.publisher(dead_queue),
    )
    dead_letters: list[str] = []

    async def raw_body(message: RabbitMessage) -> Any:
        return message.body  # whatever the dead letter's content type claims

    @broker.subscriber(dead_queue, channel=Channel(prefetch_count=64), decoder=raw_body)
    async def collect(body: Any, message: RabbitMessage) -> None:
        dead_letters.append(str(message.headers["dead-letter-reason"]))

    async with broker:
        await broker.start()
        for index, case in enumerate(cases):
            await broker.publish(case.payload, source, headers=case.amqp_headers(index))
        await until(
            lambda: (
                len(dispatcher.outcomes) == len(cases)
                and len(dead_letters)
                == sum(o.verdict is Verdict.DEAD_LETTER for o in dispatcher.outcomes.values())
            ),
            timeout=max(60, CASES / 20),
        )
    check(cases, dispatcher.outcomes, dispatcher.handled_ids, "faststream")
    assert all(dead_letters)
