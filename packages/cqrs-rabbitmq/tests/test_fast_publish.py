"""Publishing whole chunks of pre-encoded frames (`_frames`) and aio-pika's path it falls back to.

The frames must be byte for byte what aio-pika and pamqp send for `to_amqp(message)`, and the
broker must behave the same on either path: confirms, returns, nacks, order, reconnects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import re
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import DeliveryError, PublishError
from aiormq import spec
from aiormq.abc import ChannelFrame
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.exceptions import DestinationUnavailableError, InvalidTopicError, PublishBatchError
from cqrs_rabbitmq import RabbitMQMessageBroker, _frames
from cqrs_rabbitmq._codec import to_amqp

Reader = Callable[[AbstractQueue, int, float], Awaitable[list[Message]]]
MakeQueue = Callable[[str], Awaitable[AbstractQueue]]

NOW = datetime.datetime(2025, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
FRAME_MAX = 131072 - 8

SAMPLES = [
    Message(
        topic="orders.paid",
        payload=b'{"id": 1}',
        message_name="OrderPaid",
        key="order-1",
        timestamp=datetime.datetime(2024, 5, 17, 9, 30, 15, 500000, tzinfo=datetime.UTC),
        correlation_id="corr-7",
        causation_id="cause-3",
        extra_headers={"x-tenant": "acme", "x-ünï": "çødé " * 100},
    ),
    Message(topic="t", payload=b"", message_name="", correlation_id=""),  # empties left out
    Message(topic="ünïcode.tøpic", payload=b"x" * (3 * FRAME_MAX + 5), message_name="Big"),
    Message(
        topic="naive",
        payload=b"1",
        message_name="N",
        timestamp=datetime.datetime(2020, 1, 1, 12, 0, 0, 999999),  # naive: taken as UTC
        content_type="",
    ),
    Message(topic="k", payload=b"2", message_name="K", extra_headers={"h" * 200: "long name"}),
    Message(  # every standard header and no extra one: the encoder's short path
        topic="orders.shipped",
        payload=b"{}",
        message_name="Shipped",
        key="ørder-9",
        timestamp=datetime.datetime(2024, 5, 17, 9, 30, 15, tzinfo=datetime.UTC),
        correlation_id="corr-8",
        causation_id="cause-4",
        content_type="application/x-protobuf",
    ),
]


def pamqp_frames(message: Message, *, channel: int, mandatory: bool) -> bytes:
    """What aio-pika and aiormq put on the wire to publish `to_amqp(message)`."""
    properties = to_amqp(message).properties
    if message.timestamp is None:
        properties.timestamp = NOW
    body = message.payload
    pieces = [ContentBody(body[i : i + FRAME_MAX]) for i in range(0, len(body), FRAME_MAX)]
    frames = [
        spec.Basic.Publish(exchange="cqrs.events", routing_key=message.topic, mandatory=mandatory),
        ContentHeader(properties=properties, body_size=len(body)),
        *pieces,
    ]
    return ChannelFrame.marshall(channel, frames).payload


@pytest.mark.parametrize("mandatory", [True, False])
@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_frames_are_byte_identical_to_aio_pika(index: int, mandatory: bool) -> None:
    message = SAMPLES[index]
    encoder = _frames.Encoder(
        channel=7, exchange="cqrs.events", mandatory=mandatory, max_content_size=FRAME_MAX, now=NOW
    )
    out: list[bytes] = []
    encoder.encode(message, out)
    assert b"".join(out) == pamqp_frames(message, channel=7, mandatory=mandatory)


def test_a_header_added_to_header_names_is_encoded_in_pamqps_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The short path for plain messages follows `HEADER_NAMES` as it is when a batch is
    encoded: a new entry is sent, at its sorted place, byte for byte as pamqp sends it."""
    monkeypatch.setitem(HEADER_NAMES, "topic", "d-topic")
    message = SAMPLES[-1]
    encoder = _frames.Encoder(
        channel=7, exchange="cqrs.events", mandatory=True, max_content_size=FRAME_MAX, now=NOW
    )
    out: list[bytes] = []
    encoder.encode(message, out)
    assert b"d-topic" in b"".join(out)
    assert b"".join(out) == pamqp_frames(message, channel=7, mandatory=True)


def test_a_message_pamqp_cannot_encode_is_refused_before_anything_is_written() -> None:
    encoder = _frames.Encoder(
        channel=1, exchange="x", mandatory=True, max_content_size=FRAME_MAX, now=NOW
    )
    out: list[bytes] = []
    with pytest.raises(ValueError, match="Routing key too long"):
        encoder.encode(Message(topic="r" * 256, payload=b"", message_name="E"), out)
    with pytest.raises(TypeError):
        encoder.encode(Message(topic="t", payload=b"", message_name="é" * 200), out)
    assert out == []


def test_supports_needs_every_internal_and_publisher_confirms() -> None:
    class Channel:
        lock = delivery_tag = confirmations = message_id_delivery_tag = write_queue = None
        create_future = number = max_content_size = is_closed = None
        publisher_confirms = True

    assert _frames.supports(Channel())
    Channel.publisher_confirms = False
    assert not _frames.supports(Channel())
    Channel.publisher_confirms = True
    del Channel.message_id_delivery_tag
    assert not _frames.supports(Channel())


@pytest.fixture(params=["frames", "aio-pika"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test on the fast path and again with it refused at connect time."""
    if request.param == "aio-pika":
        monkeypatch.setattr(_frames, "supports", lambda channel: False)
    return str(request.param)


@pytest.fixture
async def broker(
    rabbitmq_url: str, exchange_name: str, side_channel: AbstractChannel, path: str
) -> AsyncIterator[RabbitMQMessageBroker]:
    async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
        assert broker._raw_frames is (path == "frames")
        yield broker


async def _queue(broker: RabbitMQMessageBroker, *keys: str, **arguments: Any) -> AbstractQueue:
    name = f"cqrs.test.q.{uuid.uuid4().hex[:12]}"
    return await broker.declare_queue(
        name, keys, durable=False, exclusive=True, arguments=arguments or None
    )


def _message(topic: str, index: int = 0, key: str | None = None) -> Message:
    return Message(topic=topic, payload=str(index).encode(), message_name="Step", key=key)


def _properties(incoming: AbstractIncomingMessage) -> dict[str, Any]:
    info = incoming.info()
    for varying in ("delivery_tag", "consumer_tag", "redelivered", "message_count"):
        info.pop(varying, None)
    return {"body": incoming.body, **info}


@pytest.mark.rabbitmq
async def test_a_message_arrives_the_same_by_either_path(
    rabbitmq_url: str, exchange_name: str, side_channel: AbstractChannel, monkeypatch: Any
) -> None:
    received = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(_frames, "supports", lambda channel: False)
        async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
            assert broker._raw_frames is fast
            queue = await _queue(broker, "orders.#", "naive", "k")
            for sample in (SAMPLES[0], SAMPLES[3], SAMPLES[4]):
                await broker.send_message(sample)
            received.append([_properties(await queue.get(timeout=5)) for _ in range(3)])
    for run in received:
        # SAMPLES[4] has no timestamp: each path stamps the time of sending (to the second),
        # which may differ between the two runs
        assert isinstance(run[2].pop("timestamp"), datetime.datetime)
    assert received[0] == received[1]
    assert received[0][0]["headers"]["x-ünï"] == "çødé " * 100
    assert received[0][0]["timestamp"] == datetime.datetime(
        2024, 5, 17, 9, 30, 15, tzinfo=datetime.UTC
    )


@pytest.mark.rabbitmq
async def test_per_key_order_and_confirms_hold_on_both_paths(
    broker: RabbitMQMessageBroker,
    side_channel: AbstractChannel,
    bound_queue: MakeQueue,
    read_queue: Reader,
) -> None:
    queue = await bound_queue("steps")
    sent = [_message("steps", i, key=f"aggregate-{i % 7}") for i in range(700)]
    await broker.send_many(sent)
    state = await side_channel.declare_queue(queue.name, passive=True)
    assert state.declaration_result.message_count == 700, "confirmed means queued"
    received = await read_queue(queue, 700, 20)
    assert [m.message_id for m in received] == [m.message_id for m in sent]


@pytest.mark.rabbitmq
async def test_an_unroutable_message_raises_and_the_rest_are_delivered(
    broker: RabbitMQMessageBroker, read_queue: Reader
) -> None:
    queue = await _queue(broker, "routed")
    batch = [_message("routed", 0), _message("nobody.listens", 1), _message("routed", 2)]
    with pytest.raises(PublishBatchError) as raised:
        await broker.send_many(batch)
    assert raised.value.delivered == [batch[0], batch[2]]
    ((refused, error),) = raised.value.failed
    assert refused is batch[1]
    assert isinstance(error, DestinationUnavailableError), (
        "a missing queue is not the message's fault"
    )
    assert error.topic == "nobody.listens"
    assert isinstance(error.__cause__, PublishError)
    assert [m.payload for m in await read_queue(queue, 2, 5)] == [b"0", b"2"]
    await broker.send_message(_message("routed", 3))  # the channel survived the return
    assert [m.payload for m in await read_queue(queue, 1, 5)] == [b"3"]


@pytest.mark.rabbitmq
async def test_a_nack_raises_delivery_error(broker: RabbitMQMessageBroker) -> None:
    queue = await _queue(broker, "full", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    await broker.send_message(_message("full", 0))
    with pytest.raises(PublishBatchError) as raised:
        await broker.send_many([_message("full", 1), _message("full", 2)])
    errors = [error for _, error in raised.value.failed]
    assert errors, "the nacked messages are reported"
    assert all(isinstance(e, DestinationUnavailableError) for e in errors), (
        "a full queue pushes back"
    )
    assert all(isinstance(e.__cause__, DeliveryError) for e in errors)
    await queue.purge()
    await broker.send_message(_message("full", 3))


@pytest.mark.rabbitmq
async def test_a_routing_key_too_long_fails_alone(
    broker: RabbitMQMessageBroker, read_queue: Reader
) -> None:
    queue = await _queue(broker, "fine")
    with pytest.raises(PublishBatchError) as raised:
        await broker.send_many([_message("fine", 0), _message("r" * 256), _message("fine", 2)])
    ((_, error),) = raised.value.failed
    assert isinstance(error, InvalidTopicError), "refused before sending, as a message fault"
    assert "at most 255" in str(error)
    assert [m.payload for m in await read_queue(queue, 2, 5)] == [b"0", b"2"]


@pytest.mark.rabbitmq
async def test_a_cancelled_send_leaves_the_channel_clean_and_usable(
    broker: RabbitMQMessageBroker,
    side_channel: AbstractChannel,
    bound_queue: MakeQueue,
    read_queue: Reader,
) -> None:
    queue = await bound_queue("cancel")
    sending = asyncio.ensure_future(broker.send_many([_message("cancel", i) for i in range(300)]))
    await asyncio.sleep(0)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    await broker.send_many([_message("cancel", i) for i in range(300, 310)])
    assert broker._channel is not None
    underlay = await broker._channel.get_underlay_channel()
    assert underlay.message_id_delivery_tag == {}, "no message id is left registered"
    state = await side_channel.declare_queue(queue.name, passive=True)
    # What the cancelled call had written may arrive too, before the later batch.
    received = await read_queue(queue, state.declaration_result.message_count, 10)
    assert [m.payload for m in received][-10:] == [str(i).encode() for i in range(300, 310)]


@pytest.mark.rabbitmq
async def test_a_batch_cut_midway_is_completed_after_reconnecting(
    proxy: Any,
    rabbitmq_url: str,
    exchange_name: str,
    side_channel: AbstractChannel,
    bound_queue: MakeQueue,
    read_queue: Reader,
    path: str,
) -> None:
    queue = await bound_queue("midway")
    url = proxy.url_for(rabbitmq_url, reconnect_interval="0.1")
    broker = RabbitMQMessageBroker(url, exchange=exchange_name, reconnect_timeout=15)
    sent = [_message("midway", i) for i in range(1500)]
    try:
        await broker.connect()
        assert broker._raw_frames is (path == "frames")
        async with asyncio.timeout(30):
            sending = asyncio.ensure_future(broker.send_many(sent))
            while not sending.done() and proxy.accepted < 2:
                await asyncio.sleep(0.002)
                proxy.cut()
            await sending
        assert proxy.accepted >= 2, "the batch finished before the connection was cut"
        state = await side_channel.declare_queue(queue.name, passive=True)
        received = await read_queue(queue, state.declaration_result.message_count, 10)
    finally:
        await broker.close()
    first_copies = list(dict.fromkeys(m.message_id for m in received))
    assert first_copies == [m.message_id for m in sent]


ROOT = Path(__file__).resolve().parents[3]


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.findall(r"\d+", version)[:2]
    return int(major), int(minor)


def test_tested_versions_are_the_lowest_allowed_and_the_locked_ones() -> None:
    """`TESTED_VERSIONS` is what `nox -s rabbitmq_compat` runs: the lower bounds of
    pyproject.toml and the locked versions; bumping either without it fails here."""
    lock = ROOT / "uv.lock"
    if not lock.exists():
        pytest.skip("not in the repository checkout: no uv.lock")
    project = tomllib.loads((ROOT / "packages/cqrs-rabbitmq/pyproject.toml").read_text())
    lowest = {}
    for requirement in project["project"]["dependencies"]:
        name, _, spec = requirement.partition(">=")
        if name in ("aio-pika", "aiormq"):
            lowest[name] = _minor(spec)
    tested = _frames.TESTED_VERSIONS
    packages = tomllib.loads(lock.read_text())["package"]
    locked = {p["name"]: _minor(p["version"]) for p in packages if p["name"] in tested}
    for name, (oldest, newest) in _frames.TESTED_VERSIONS.items():
        assert newest == locked[name], f"{name}: the lock holds {locked[name]}"
        if name in lowest:
            assert oldest == lowest[name], f"{name}: pyproject.toml allows {lowest[name]}"


def test_the_installed_versions_are_tested() -> None:
    assert _frames.versions_tested()


@pytest.fixture
def fresh_version_check() -> Iterator[None]:
    """Forget the version check and the fallback logged, before and after the test."""
    _frames.versions_tested.cache_clear()
    _frames._log_fallback_once.cache_clear()
    yield
    _frames.versions_tested.cache_clear()
    _frames._log_fallback_once.cache_clear()


@pytest.mark.rabbitmq
async def test_untested_versions_publish_with_aio_pika_logged_once(
    rabbitmq_url: str,
    exchange_name: str,
    side_channel: AbstractChannel,
    read_queue: Reader,
    fresh_version_check: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = _frames._installed
    monkeypatch.setattr(
        _frames, "_installed", lambda name: "99.0.0" if name == "aiormq" else real(name)
    )
    caplog.set_level(logging.INFO, logger="cqrs_rabbitmq")
    for index in range(2):
        async with RabbitMQMessageBroker(rabbitmq_url, exchange=exchange_name) as broker:
            assert broker._raw_frames is False
            queue = await _queue(broker, "fallback")
            await broker.send_message(_message("fallback", index))
            assert [m.payload for m in await read_queue(queue, 1, 5)] == [str(index).encode()]
    (record,) = [r for r in caplog.records if r.name.startswith("cqrs_rabbitmq")]
    assert record.levelno == logging.INFO
    assert "aiormq 99.0.0 (tested: 7.1 to 7.2)" in record.getMessage()
    assert "Exchange.publish" in record.getMessage()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _TracedMessage(Message):
    """A message with a header `Message` does not have, standing for one added to it later."""

    trace_id: str = "trace-1"

    def headers(self) -> dict[str, str]:
        return {**Message.headers(self), "trace-id": self.trace_id}


@pytest.mark.rabbitmq
async def test_a_header_added_to_message_reaches_the_consumer(
    broker: RabbitMQMessageBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers come from `Message.headers()` on both paths: a new metadata header (here the
    topic under `event-topic`) or a subclass's own header is never dropped by the fast path."""
    monkeypatch.setitem(HEADER_NAMES, "topic", "event-topic")
    queue = await _queue(broker, "traced")
    await broker.send_many([_TracedMessage(topic="traced", payload=b"{}", message_name="T")])
    incoming = await queue.get(timeout=5)
    assert incoming.headers["event-topic"] == "traced"
    assert incoming.headers["trace-id"] == "trace-1"
    assert incoming.headers["event-type"] == "T"
