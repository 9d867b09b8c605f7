"""Publishing a batch of messages on an aiormq channel as one write of pre-encoded frames.

aio-pika publishes one message per task: an `aio_pika.Message`, pamqp objects, the channel
lock, a write and a drain each, about 200 µs of CPU per message. Here the frames of a whole
chunk are encoded with `struct` into one `bytes` and queued for the connection's writer once,
while the confirmation futures are registered in the channel's tables under its lock, exactly
as `aiormq.Channel.basic_publish` registers them, so aiormq resolves them on ack, nack, return
or close as usual. The bytes equal what pamqp marshals for `to_amqp(message)` (tested).

This relies on aiormq internals, so it is used only with the versions CI tests it with
(`TESTED_VERSIONS`, run by `nox -s rabbitmq_compat` with the oldest versions the package allows
and the locked ones) and only when the channel has every internal it touches: `supports()` checks
both when the broker connects, and the broker otherwise publishes with aio-pika's
`Exchange.publish`, saying so once in an INFO log record.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import re
import struct
from collections.abc import Sequence
from functools import partial
from typing import Any

from aiormq.abc import ChannelFrame
from pamqp import encode as pamqp_encode

from cqrs.brokers.message import HEADER_NAMES, Message

__all__: list[str] = []

_log = logging.getLogger("cqrs_rabbitmq.broker")

TESTED_VERSIONS = {
    "aio-pika": ((10, 0), (10, 2)),
    "aiormq": ((7, 1), (7, 2)),
    "pamqp": ((4, 0), (4, 0)),
}
"""Oldest and newest (major, minor) release of each library the fast path is tested with: the
lower bounds of the package's dependencies (pamqp: what the oldest aiormq requires) and the
locked versions. A test keeps them equal to pyproject.toml and uv.lock."""

CHUNK = 256
"""Messages per write: bounds one write's size and lets RabbitMQ start on a chunk early."""

_REQUIRED = (
    "lock",
    "delivery_tag",
    "confirmations",
    "message_id_delivery_tag",
    "write_queue",
    "create_future",
    "number",
    "max_content_size",
    "publisher_confirms",
    "is_closed",
)
"""The attributes of `aiormq.Channel` the fast path reads or writes."""

_FRAME_END = b"\xce"
_FRAME_HEAD = struct.Struct(">BHI")  # type, channel, payload size
_PUBLISH_HEAD = struct.Struct(">IH")  # class 60 / method 40, reserved ticket
_PUBLISH_INDEX = 0x003C0028
_HEADER_HEAD = struct.Struct(">HHQH")  # class 60, weight 0, body size, property flags
_BYTE = struct.Struct(">B")
_LONG = struct.Struct(">I")
_TIMESTAMP = struct.Struct(">Q")
_METHOD, _HEADER, _BODY = 1, 2, 3
_MODE_AND_PRIORITY = b"\x02\x00"  # persistent; priority 0, aio_pika.Message's default

# Basic.Properties flags, in the order their values follow the flags on the wire.
_CONTENT_TYPE = 1 << 15
_HEADERS = 1 << 13
_DELIVERY_MODE = 1 << 12
_PRIORITY_FLAG = 1 << 11
_CORRELATION_ID = 1 << 10
_MESSAGE_ID = 1 << 7
_TIMESTAMP_FLAG = 1 << 6
_TYPE = 1 << 5


def supports(channel: object) -> bool:
    """Whether the fast path may publish on `channel` (an aiormq channel): the installed
    libraries are versions it is tested with and the channel has every internal it touches."""
    if not versions_tested():
        return False
    missing = [name for name in _REQUIRED if not hasattr(channel, name)]
    if missing:
        _log_fallback_once(f"the aiormq channel lacks {', '.join(missing)}")
        return False
    if getattr(channel, "publisher_confirms", False) is not True:
        return False
    try:
        ChannelFrame(payload=b"", should_close=False)
    except TypeError:
        _log_fallback_once("aiormq's ChannelFrame takes other arguments")
        return False
    return True


def _installed(name: str) -> str:
    from importlib import metadata  # costly to import, and needed once, at connect

    return metadata.version(name)


def _release(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


@functools.cache
def versions_tested() -> bool:
    """Whether every installed library is within `TESTED_VERSIONS` (logged once when not)."""
    untested = []
    for name, (oldest, newest) in TESTED_VERSIONS.items():
        installed = _installed(name)
        release = _release(installed)
        if release is None or not oldest <= release <= newest:
            untested.append(f"{name} {installed} (tested: {_span(oldest, newest)})")
    if untested:
        _log_fallback_once(f"untested versions installed: {', '.join(untested)}")
        return False
    return True


def _span(oldest: tuple[int, int], newest: tuple[int, int]) -> str:
    return f"{oldest[0]}.{oldest[1]} to {newest[0]}.{newest[1]}"


@functools.cache
def _log_fallback_once(reason: str) -> None:
    _log.info(
        "RabbitMQ messages are published with aio-pika's Exchange.publish, not the faster "
        "frame writer: %s",
        reason,
    )


def _short(text: str) -> bytes:
    """An AMQP short string, refused as pamqp refuses it."""
    if not isinstance(text, str):
        raise TypeError(f"str required, received {type(text)}")
    raw = text.encode()
    if len(raw) > 255:
        raise TypeError("string exceeds maximum length of 255 bytes")
    return _BYTE.pack(len(raw)) + raw


_Sent = list[tuple[int, str, int, "asyncio.Future[Any]"]]
"""The messages written: index in the call, message id, delivery tag, confirmation."""

_NAMES: dict[str, bytes] = {}
"""Encoded header names with the string type tag (`<len><name>S`), cached: they repeat."""


def _name_prefix(key: str) -> bytes | None:
    """`<len><name>S`, how a string field's name starts in a table, or `None` for a name
    pamqp encodes by its own rules (or refuses): empty, over 128 bytes, not a string."""
    prefix = _NAMES.get(key)
    if prefix is None:
        name = key.encode() if isinstance(key, str) else b""
        if not name or len(name) > 128:
            return None
        prefix = _BYTE.pack(len(name)) + name + b"S"
        if len(_NAMES) < 1024:
            _NAMES[key] = prefix
    return prefix


def _table(headers: dict[str, str]) -> bytes:
    """An AMQP field table, as pamqp encodes it: sorted keys, strings as long strings."""
    parts = []
    for key in sorted(headers):
        value = headers[key]
        prefix = _name_prefix(key)
        if prefix is None or type(value) is not str:
            return pamqp_encode.field_table(dict(headers))  # pamqp's rules, or its error
        raw = value.encode()
        parts.append(prefix + _LONG.pack(len(raw)) + raw)
    body = b"".join(parts)
    return _LONG.pack(len(body)) + body


def _header_plan() -> tuple[tuple[bytes, str], ...] | None:
    """`Message.headers()`'s standard headers in pamqp's (sorted) order, each as its encoded
    name and the `Message` attribute it carries, read from `HEADER_NAMES` as it is now;
    `None` if a name needs pamqp's own rules (then every message takes `_table`)."""
    names = {"content-type": "content_type"} | {h: a for a, h in HEADER_NAMES.items()}
    plan = []
    for header in sorted(names):
        prefix = _name_prefix(header)
        if prefix is None:
            return None
        plan.append((prefix, names[header]))
    return tuple(plan)


def _standard_headers(
    message: Message, message_id: str, plan: tuple[tuple[bytes, str], ...]
) -> bytes:
    """The header table of a plain `Message` without extra headers, as `_table` encodes its
    `headers()`, without building and sorting the dict (this runs once per message sent)."""
    parts: list[bytes] = []
    for prefix, attr in plan:
        value = getattr(message, attr)
        if value is None:
            continue
        if type(value) is not str:
            if attr == "message_id":
                value = message_id
            elif isinstance(value, datetime.datetime):
                value = value.isoformat()
            else:
                value = str(value)
        raw = value.encode()
        parts += (prefix, _LONG.pack(len(raw)), raw)
    body = b"".join(parts)
    return _LONG.pack(len(body)) + body


def _timestamp(value: datetime.datetime) -> bytes:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=datetime.UTC)
    return _TIMESTAMP.pack(int(value.timestamp()))


class Encoder:
    """Encodes messages into the frames publishing them on one channel to one exchange."""

    def __init__(
        self,
        *,
        channel: int,
        exchange: str,
        mandatory: bool,
        max_content_size: int,
        now: datetime.datetime,
    ) -> None:
        self.channel = channel
        self.max_content_size = max_content_size
        self.now = now
        self._publish = _PUBLISH_HEAD.pack(_PUBLISH_INDEX, 0) + _short(exchange)
        self._bits = b"\x01" + _FRAME_END if mandatory else b"\x00" + _FRAME_END
        self._plan = _header_plan()

    def encode(self, message: Message, out: list[bytes]) -> str:
        """Append the method, header and body frames publishing `message` to `out`; returns
        the message id as sent."""
        if len(message.topic) > 255:
            raise ValueError("Routing key too long (max 255 bytes)")
        topic = _short(message.topic)
        body = message.payload
        message_id = str(message.message_id)
        flags, properties = self._properties(message, message_id)
        channel = self.channel
        header = _HEADER_HEAD.pack(60, 0, len(body), flags)
        out += (
            _FRAME_HEAD.pack(_METHOD, channel, len(self._publish) + len(topic) + 1),
            self._publish,
            topic,
            self._bits,
            _FRAME_HEAD.pack(_HEADER, channel, len(header) + len(properties)),
            header,
            properties,
            _FRAME_END,
        )
        size = self.max_content_size
        for start in range(0, len(body), size):
            piece = body[start : start + size]
            out += (_FRAME_HEAD.pack(_BODY, channel, len(piece)), piece, _FRAME_END)
        return message_id

    def _properties(self, message: Message, message_id: str) -> tuple[int, bytes]:
        """The property flags and values of `to_amqp(message)`, in wire order; the headers
        are exactly `message.headers()`, so a header added to `Message` (or a subclass's own)
        travels on this path as it does on aio-pika's."""
        flags = _HEADERS | _DELIVERY_MODE | _PRIORITY_FLAG | _MESSAGE_ID | _TIMESTAMP_FLAG
        parts = []
        if message.content_type:
            flags |= _CONTENT_TYPE
            parts.append(_short(message.content_type))
        if self._plan is not None and type(message) is Message and not message.extra_headers:
            parts.append(_standard_headers(message, message_id, self._plan))
        else:
            parts.append(_table(message.headers()))
        parts.append(_MODE_AND_PRIORITY)
        correlation_id = message.correlation_id
        if correlation_id is not None and str(correlation_id) != "":
            flags |= _CORRELATION_ID
            parts.append(_short(str(correlation_id)))
        parts.append(_short(message_id))
        parts.append(_timestamp(message.timestamp or self.now))
        if message.message_name:
            flags |= _TYPE
            parts.append(_short(message.message_name))
        return flags, b"".join(parts)


async def publish(
    channel: Any,
    exchange: str,
    messages: Sequence[Message],
    *,
    mandatory: bool,
    now: datetime.datetime,
) -> list[BaseException | None]:
    """Publish `messages` in order on aiormq `channel`; each one's error, or `None` if confirmed.

    A message that cannot be encoded gets its error without being sent (the others are);
    cancelling the call leaves the channel consistent, as `basic_publish` does.
    """
    loop = asyncio.get_running_loop()
    outcome: list[BaseException | None] = [None] * len(messages)
    sent: _Sent = []
    # Confirmations are plain loop futures (aiormq's own carry four callbacks each); this one
    # future in the channel's store is rejected when the channel closes, and passes it on.
    closed: asyncio.Future[Any] = channel.create_future()
    closed.add_done_callback(partial(_reject, sent))
    encoder = Encoder(
        channel=channel.number,
        exchange=exchange,
        mandatory=mandatory,
        max_content_size=channel.max_content_size,
        now=now,
    )
    try:
        for start in range(0, len(messages), CHUNK):
            if start:
                await asyncio.sleep(0)  # let the writer send the previous chunk meanwhile
            frames: list[bytes] = []
            ids: list[tuple[int, str]] = []
            for index in range(start, min(start + CHUNK, len(messages))):
                message = messages[index]
                try:
                    message_id = encoder.encode(message, frames)
                except (TypeError, ValueError, OverflowError) as error:
                    outcome[index] = error
                    continue
                ids.append((index, message_id))
            if not ids:
                continue
            try:
                await _write(channel, loop, b"".join(frames), ids, sent)
            except Exception as error:  # the channel closed: nothing from here on was sent
                for index in range(ids[0][0], len(messages)):
                    outcome[index] = outcome[index] or error
                break
            if closed.done():  # closed before these were registered: fail them too
                _reject(sent, closed)
        for index, _, _, future in sent:
            if not future.done():
                await asyncio.wait((future,))  # mostly once: confirms come in order
            outcome[index] = asyncio.CancelledError() if future.cancelled() else future.exception()
    finally:
        closed.cancel()
        tags = channel.message_id_delivery_tag
        for _, message_id, tag, future in sent:
            if tags.get(message_id) == tag:
                del tags[message_id]
            if not future.done():
                future.cancel()
    return outcome


def _reject(
    sent: list[tuple[int, str, int, asyncio.Future[Any]]], closed: asyncio.Future[Any]
) -> None:
    """Fail the unconfirmed messages with the reason the channel closed for."""
    if closed.cancelled():
        return
    reason = closed.exception() or Exception()
    for *_, future in sent:
        if not future.done():
            future.set_exception(reason)


async def _write(
    channel: Any,
    loop: asyncio.AbstractEventLoop,
    payload: bytes,
    ids: list[tuple[int, str]],
    sent: _Sent,
) -> None:
    """Register one confirmation per message and queue `payload`, atomically for the channel."""
    async with channel.lock:
        first = channel.delivery_tag + 1
        registered = []
        for offset, (index, message_id) in enumerate(ids):
            tag = first + offset
            future = loop.create_future()
            channel.confirmations[tag] = future
            channel.message_id_delivery_tag[message_id] = tag
            registered.append((index, message_id, tag, future))
        channel.delivery_tag = first + len(ids) - 1
        try:
            await channel.write_queue.put(ChannelFrame(payload=payload, should_close=False))
        except BaseException:
            # Nothing reached the writer: give the sequence numbers back, as aiormq does.
            channel.delivery_tag = first - 1
            for _, message_id, tag, future in registered:
                channel.confirmations.pop(tag, None)
                if channel.message_id_delivery_tag.get(message_id) == tag:
                    del channel.message_id_delivery_tag[message_id]
                future.cancel()
            raise
        sent.extend(registered)
