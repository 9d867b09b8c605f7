"""The message dispatcher turns hostile input into dead letters and keeps going."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

import cqrs
from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumer import MessageDispatcher, Verdict, inbox_session
from cqrs.events.bootstrap import bootstrap
from cqrs.exceptions import DestinationUnavailableError
from cqrs.inbox.memory import MemoryInbox, MemoryInboxSession


class Joined(cqrs.Response):
    user_id: str
    seats: int


JoinedEvent = cqrs.NotificationEvent[Joined]
handled: list[Any] = []
sessions: list[Any] = []


class JoinedHandler(cqrs.EventHandler[JoinedEvent]):  # type: ignore[valid-type]
    async def handle(self, event: Any) -> None:
        if event.payload.user_id == "boom":
            raise RuntimeError("downstream unavailable")
        try:
            sessions.append(inbox_session())
        except LookupError:
            sessions.append(None)
        handled.append(event)


@pytest.fixture(autouse=True)
def _reset() -> None:
    handled.clear()
    sessions.clear()


def dispatcher(**options: Any) -> MessageDispatcher:
    mediator = bootstrap(events_mapper=lambda m: m.bind(JoinedEvent, JoinedHandler))
    return MessageDispatcher(
        mediator,
        {"UserJoined": JoinedEvent},
        backoff=ExponentialBackoff(base=0.001, jitter=False),
        **options,
    )


def message(payload: bytes, name: str = "UserJoined") -> Message:
    return Message(topic="users", payload=payload, message_name=name)


def good(user_id: str = "u1") -> Message:
    event = JoinedEvent(
        event_name="UserJoined", topic="users", payload=Joined(user_id=user_id, seats=2)
    )
    return Message.from_event(event)


@pytest.mark.parametrize(
    ("payload", "name", "reason"),
    [
        (b"{not json", "UserJoined", "not valid application/json"),
        (b"[1, 2]", "UserJoined", "payload must be an object"),
        (b'{"event_name": "Nope"}', "", "unknown event 'Nope'"),
        (b"{}", "", "names no event"),
        (
            json.dumps(
                {
                    "event_name": "UserJoined",
                    "topic": "users",
                    "payload": {"user_id": "u", "seats": "two"},
                }
            ).encode(),
            "UserJoined",
            "payload.seats: expected an integer",
        ),
        (
            b'{"event_name": "UserJoined", "topic": "users"}',
            "UserJoined",
            "payload: field required",
        ),
    ],
)
async def test_hostile_messages_are_dead_lettered_with_a_reason(
    payload: bytes, name: str, reason: str
) -> None:
    subject = dispatcher()
    outcome = await subject.dispatch(message(payload, name))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert reason in (outcome.reason or "")
    assert (await subject.dispatch(good())).verdict is Verdict.HANDLED, "it keeps consuming"
    assert len(handled) == 1


async def test_oversized_messages_are_dead_lettered() -> None:
    subject = dispatcher(max_message_bytes=100)
    outcome = await subject.dispatch(message(b"{" + b" " * 200 + b"}"))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert "exceeds the limit of 100 bytes" in (outcome.reason or "")


async def test_a_failing_handler_is_retried_then_dead_lettered() -> None:
    subject = dispatcher(handler_attempts=3)
    outcome = await subject.dispatch(good("boom"))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert "after 3 attempt(s)" in (outcome.reason or "")
    assert "downstream unavailable" in (outcome.reason or "")


async def test_the_inbox_makes_redeliveries_duplicates() -> None:
    subject = dispatcher(inbox=MemoryInbox(), consumer_name="seats")
    delivery = good()
    assert (await subject.dispatch(delivery)).verdict is Verdict.HANDLED
    assert (await subject.dispatch(delivery)).verdict is Verdict.DUPLICATE
    assert len(handled) == 1
    assert isinstance(sessions[0], MemoryInboxSession), "handlers see the inbox transaction"


async def test_without_an_inbox_there_is_no_inbox_session() -> None:
    await dispatcher().dispatch(good())
    assert sessions == [None]


# --- hostile input: every decoding failure is a dead letter ------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "JSON nesting exceeds the limit of 100 levels"),
        (b'{"a": ' * 3000 + b"1" + b"}" * 3000, "JSON nesting exceeds the limit of 100 levels"),
        (b"[" * 5000, "JSON nesting exceeds the limit of 100 levels"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid application/json"),
        (b"\xff\xfe{}", "not valid application/json"),
    ],
)
async def test_deep_or_otherwise_hostile_json_is_dead_lettered_not_raised(
    payload: bytes, reason: str
) -> None:
    """On the old dispatcher deep nesting escaped `dispatch` as RecursionError."""
    subject = dispatcher()
    outcome = await subject.dispatch(message(payload))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert reason in (outcome.reason or "")
    assert (await subject.dispatch(good())).verdict is Verdict.HANDLED


async def test_nesting_up_to_the_limit_decodes() -> None:
    nested: Any = "deep"
    for _ in range(9):
        nested = {"x": nested}
    event = JoinedEvent(
        event_name="UserJoined", topic="users", payload=Joined(user_id="u1", seats=2)
    ).to_dict()
    event["extra"] = nested  # depth 10 with the envelope: fine under a limit of 10
    raw = json.dumps(event).encode()
    assert (await dispatcher(max_depth=10).dispatch(message(raw))).verdict is Verdict.HANDLED
    outcome = await dispatcher(max_depth=9).dispatch(message(raw))
    assert "nesting exceeds the limit of 9 levels" in (outcome.reason or "")


class ExplodingSerializer:
    """A serializer failing with errors that are not `ValueError`."""

    content_type = "application/x-exploding"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def dumps(self, data: Any) -> bytes:
        return json.dumps(data).encode()

    def loads(self, raw: bytes) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error", [RecursionError("too deep"), MemoryError(), KeyError("x"), RuntimeError("bug")]
)
async def test_any_decoding_error_is_a_dead_letter_with_its_reason(error: Exception) -> None:
    """The old dispatcher caught only ValueError, so these escaped `dispatch`."""
    subject = dispatcher(serializer=ExplodingSerializer(error))
    outcome = await subject.dispatch(message(b"{}"))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert type(error).__name__ in (outcome.reason or "")
    assert "application/x-exploding" in (outcome.reason or "")
    with pytest.raises(ValueError, match=type(error).__name__):
        subject.decode(message(b"{}"))


async def test_a_wrong_content_type_is_named_in_the_reason() -> None:
    hostile = Message(
        topic="users", payload=b"\x08\x01", message_name="UserJoined", content_type="text/plain"
    )
    outcome = await dispatcher().dispatch(hostile)
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert "(the message says text/plain)" in (outcome.reason or "")


async def test_headers_that_cannot_become_a_message_are_a_dead_letter() -> None:
    def convert(headers: dict[str, str]) -> Message:
        return Message.from_headers("users", b"{}", headers)

    subject = dispatcher()
    for headers, reason in [
        ({"event-id": "not-a-uuid"}, "badly formed hexadecimal UUID string"),
        ({"event-timestamp": "yesterday"}, "Invalid isoformat string"),
    ]:
        outcome = await subject.dispatch_from(convert, headers)
        assert outcome.verdict is Verdict.DEAD_LETTER
        assert "invalid message headers" in (outcome.reason or "")
        assert reason in (outcome.reason or "")


async def test_reasons_are_bounded() -> None:
    outcome = await dispatcher().dispatch(message(b"{}", name="N" * 100_000))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert len(outcome.reason or "") <= 2000


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        dispatcher(max_depth=0)


# --- destination faults are waited out, message faults dead-lettered ----------------------


class Flaky:
    """A handler body failing with `error` for its first `failures` calls."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.calls = 0
        self.handled: list[str] = []

    def dispatcher(self, **options: Any) -> MessageDispatcher:
        outer = self

        class Handler(cqrs.EventHandler[JoinedEvent]):  # type: ignore[valid-type]
            async def handle(self, event: Any) -> None:
                outer.calls += 1
                if outer.calls <= outer.failures:
                    raise outer.error
                outer.handled.append(event.payload.user_id)

        mediator = bootstrap(events_mapper=lambda m: m.bind(JoinedEvent, Handler))
        options.setdefault("backoff", ExponentialBackoff(base=0.001, jitter=False))
        options.setdefault("destination_backoff", ExponentialBackoff(base=0.001, cap=0.005))
        return MessageDispatcher(mediator, {"UserJoined": JoinedEvent}, **options)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("service timed out"),
        DestinationUnavailableError("billing service unavailable"),
    ],
)
async def test_a_destination_fault_is_retried_without_charging_the_message(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """The old dispatcher dead-lettered after `handler_attempts` whatever the error."""
    flaky = Flaky(error, failures=12)
    subject = flaky.dispatcher(handler_attempts=2)
    with caplog.at_level(logging.INFO, logger="cqrs.consumer"):
        outcome = await subject.dispatch(good("u1"))
    assert outcome.verdict is Verdict.HANDLED
    assert flaky.handled == ["u1"]
    assert flaky.calls == 13
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, "one line when the outage starts, one when it ends"
    assert "destination unavailable" in lines[0]
    assert "available again after" in lines[1]
    assert "12 retries" in lines[1]


async def test_a_message_fault_is_still_dead_lettered_after_its_attempts() -> None:
    flaky = Flaky(KeyError("seat"), failures=100)
    outcome = await flaky.dispatcher(handler_attempts=3).dispatch(good("u1"))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert "after 3 attempt(s): KeyError" in (outcome.reason or "")
    assert flaky.calls == 3


async def test_destination_retries_do_not_use_up_the_message_attempts() -> None:
    """Two message faults, an outage, one more message fault: the third attempt dead-letters."""
    errors = iter([KeyError("a"), KeyError("b"), *[ConnectionResetError()] * 5, KeyError("c")])
    calls = 0

    async def send(event: Any) -> None:
        nonlocal calls
        calls += 1
        raise next(errors)

    subject = Flaky(KeyError("unused"), failures=0).dispatcher(handler_attempts=3)
    subject.mediator.send = send  # type: ignore[method-assign]
    outcome = await subject.dispatch(good("u1"))
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert "after 3 attempt(s): KeyError: 'c'" in (outcome.reason or "")
    assert calls == 8


async def test_stop_ends_a_destination_wait_and_defers_the_message() -> None:
    flaky = Flaky(ConnectionRefusedError(), failures=10**9)
    subject = flaky.dispatcher(destination_backoff=ExponentialBackoff(base=60, jitter=False))
    stop = asyncio.Event()
    task = asyncio.create_task(subject.dispatch(good("u1"), stop=stop))
    async with asyncio.timeout(10):
        while not subject.destination_unavailable:
            await asyncio.sleep(0.001)
    stop.set()
    async with asyncio.timeout(10):
        outcome = await task
    assert outcome.verdict is Verdict.DEFERRED
    assert flaky.handled == []


class DownInbox(MemoryInbox):
    """A memory inbox whose first `outages` transactions fail to record, as a database that is
    down would (the error is not a network error: the inbox is infrastructure anyway)."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    async def record(self, session: MemoryInboxSession, message_id: Any, **kw: Any) -> bool:
        if self.outages:
            self.outages -= 1
            raise RuntimeError("the database system is starting up")
        return await super().record(session, message_id, **kw)


async def test_an_inbox_failure_is_infrastructure_never_a_dead_letter() -> None:
    """The old dispatcher counted inbox failures as handler attempts and dead-lettered."""
    inbox = DownInbox(outages=6)
    subject = dispatcher(
        inbox=inbox,
        consumer_name="seats",
        handler_attempts=2,
        destination_backoff=ExponentialBackoff(base=0.001, cap=0.002),
    )
    assert (await subject.dispatch(good("u1"))).verdict is Verdict.HANDLED
    assert [e.payload.user_id for e in handled] == ["u1"]
    assert inbox.outages == 0
