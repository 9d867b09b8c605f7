"""python-cqrs 4.x's outbox test double, as 4.x tests use it: built with a session factory,
`add(event)` and `commit()` inside `async with`, `get_many` listing what is pending."""

from __future__ import annotations

import cqrs
from cqrs.outbox.mock import MockOutboxedEventRepository


class Payload(cqrs.Response):
    order_id: str


def _event(order_id: str, topic: str) -> cqrs.NotificationEvent[Payload]:
    return cqrs.NotificationEvent[Payload](
        event_name="OrderPlaced", topic=topic, payload=Payload(order_id=order_id)
    )


async def test_add_and_commit_without_a_session_argument() -> None:
    outbox = MockOutboxedEventRepository(session_factory=dict)
    async with outbox:
        outbox.add(_event("o1", "orders"))
        outbox.add(_event("o2", "billing"))
        await outbox.commit()
    assert [row.topic for row in await outbox.get_many()] == ["orders", "billing"]
    assert [row.topic for row in await outbox.get_many(topic="billing")] == ["billing"]
    assert len(await outbox.get_many(batch_size=1)) == 1


async def test_uncommitted_events_are_dropped_and_the_session_form_still_works() -> None:
    outbox = MockOutboxedEventRepository(session_factory=dict)
    async with outbox:
        outbox.add(_event("o1", "orders"))
    assert await outbox.get_many() == []
    async with outbox as session:
        outbox.add(session, _event("o2", "orders"))
        await outbox.commit(session)
    assert (await outbox.stats()).pending == 1
    assert isinstance(outbox, cqrs.MemoryOutboxedEventRepository)
