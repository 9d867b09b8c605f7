"""The message dispatcher turns hostile input into dead letters and keeps going."""

from __future__ import annotations

import json
from typing import Any

import pytest

import cqrs
from cqrs.consumer import MessageDispatcher, Verdict, inbox_session
from cqrs.events.bootstrap import bootstrap
from cqrs.memory.inbox import MemoryInbox, MemoryInboxSession
from cqrs.outbox import ExponentialBackoff
from cqrs.protocols.message_broker import Message


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
