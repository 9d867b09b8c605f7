"""The lifespan opens brokers, runs an in-process outbox relay, and shuts both down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import fastapi
import httpx
import pytest

import cqrs
from cqrs.outbox import OutboxRelay
from cqrs_fastapi import cqrs_lifespan, open_brokers, running_relays


class TrackedBroker(cqrs.MemoryMessageBroker):
    """The in-memory broker, recording when it was connected and closed."""

    def __init__(self, name: str = "broker", log: list[str] | None = None) -> None:
        super().__init__()
        self.name = name
        self.log = log if log is not None else []

    async def connect(self) -> None:
        self.log.append(f"connect {self.name}")

    async def close(self) -> None:
        self.log.append(f"close {self.name}")
        await super().close()


Paid = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]


async def test_relay_publishes_what_requests_write_to_the_outbox_and_stops_with_the_app(
    serve: Any,
) -> None:
    outbox = cqrs.MemoryOutboxedEventRepository()
    broker = TrackedBroker()
    relay = OutboxRelay(outbox, broker, poll_interval=0.01, max_poll_interval=0.05)
    app_state: list[str] = []

    @contextlib.asynccontextmanager
    async def own_lifespan(app: fastapi.FastAPI) -> AsyncIterator[None]:
        app_state.append("app started")
        yield
        app_state.append("app stopped")

    app = fastapi.FastAPI(
        lifespan=cqrs_lifespan(brokers=[broker], relays=[relay], then=own_lifespan)
    )

    @app.post("/orders/{order_id}/pay")
    async def pay(order_id: str) -> dict[str, str]:
        async with outbox as session:
            event = Paid(
                event_name="OrderPaid",
                topic="orders",
                payload={"id": order_id},
                partition_key=order_id,
            )
            outbox.add(session, event)
            await outbox.commit(session)
        return {"event_id": str(event.event_id)}

    async with serve(app) as url:
        assert broker.log == ["connect broker"]
        assert app_state == ["app started"]
        async with httpx.AsyncClient(base_url=url) as client:
            ids = [(await client.post(f"/orders/o{n}/pay")).json()["event_id"] for n in range(3)]
        async with asyncio.timeout(5):
            while len(broker.messages.get("orders", ())) < 3:
                await asyncio.sleep(0.01)
    assert [str(m.message_id) for m in broker.messages["orders"]] == ids
    assert relay.stopping
    assert relay.counters.published == 3
    assert app_state == ["app started", "app stopped"]
    assert broker.log == ["connect broker", "close broker"]


async def test_brokers_close_in_reverse_order_even_when_one_fails_to_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    class Broken(TrackedBroker):
        async def close(self) -> None:
            log.append("close broken")
            raise ConnectionError("already gone")

    brokers = [TrackedBroker("a", log), Broken("broken", log), TrackedBroker("c", log)]
    async with open_brokers(brokers):
        assert log == ["connect a", "connect broken", "connect c"]
    assert log[3:] == ["close c", "close broken", "close a"]
    assert "closing broker" in caplog.text


SECRET = "s3cret-pw"
DSN = f"amqp://app:{SECRET}@mq.internal/"


async def test_shutdown_failures_are_logged_with_secrets_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Leaky(TrackedBroker):
        def __repr__(self) -> str:
            return f"<Leaky {DSN}>"

        async def close(self) -> None:
            raise ConnectionError(f"lost {DSN}")

    class CrashingRelay:
        worker_id = "w-1"

        async def run(self) -> None:
            raise RuntimeError(f"outbox at postgresql://app:{SECRET}@db/app is gone")

        def stop(self) -> None:
            pass

    relay: Any = CrashingRelay()
    async with open_brokers([Leaky()]), running_relays([relay]):
        pass
    logged = "\n".join(caplog.handler.format(record) for record in caplog.records)
    assert "closing broker <Leaky amqp://app:***@mq.internal/> failed" in logged
    assert "outbox relay task relay w-1 failed" in logged
    assert "postgresql://app:***@db/app" in logged
    assert "Traceback (most recent call last)" in logged
    assert SECRET not in logged


async def test_a_broker_that_fails_to_connect_closes_those_already_open() -> None:
    log: list[str] = []

    class Unreachable(TrackedBroker):
        async def connect(self) -> None:
            raise ConnectionRefusedError("nobody home")

    with pytest.raises(ConnectionRefusedError):
        async with open_brokers([TrackedBroker("a", log), Unreachable("b", log)]):
            pass
    assert log == ["connect a", "close a"]


class GatedBroker(cqrs.MemoryMessageBroker):
    """The in-memory broker holding every send after the first `open_for` until the relay is
    asked to stop, so shutdown deterministically finds a batch in flight and rows unclaimed."""

    def __init__(self, open_for: int) -> None:
        super().__init__()
        self.open_for = open_for
        self.relay: OutboxRelay | None = None

    async def send_message(self, message: cqrs.Message) -> None:
        if sum(map(len, self.messages.values())) >= self.open_for:
            while self.relay is None or not self.relay.stopping:
                await asyncio.sleep(0.001)
        await super().send_message(message)


async def test_shutdown_mid_flow_loses_nothing_and_leaves_nothing_leased(serve: Any) -> None:
    outbox = cqrs.MemoryOutboxedEventRepository()
    broker = GatedBroker(open_for=50)
    relay = broker.relay = OutboxRelay(outbox, broker, batch_size=20, poll_interval=0.001)
    app = fastapi.FastAPI(lifespan=cqrs_lifespan(relays=[relay]))
    written: list[str] = []

    @app.post("/bulk/{count}")
    async def bulk(count: int) -> None:
        async with outbox as session:
            for n in range(count):
                event = Paid(event_name="OrderPaid", topic="orders", payload={"n": n})
                outbox.add(session, event)
                written.append(str(event.event_id))
            await outbox.commit(session)

    async with serve(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.post("/bulk/300")).status_code == 200
        async with asyncio.timeout(5):
            while len(broker.messages.get("orders", ())) < 50:
                await asyncio.sleep(0.001)
    published_by_app = len(broker.messages["orders"])
    stats = await outbox.stats()
    assert stats.leased == 0, "rows claimed when the app stopped were settled or released"
    assert stats.pending == 300 - published_by_app
    assert 50 < published_by_app < 300, "the batch in flight at shutdown was published"

    broker.open_for = 300
    await OutboxRelay(outbox, broker).run_until_idle()
    delivered = [str(m.message_id) for m in broker.messages["orders"]]
    assert sorted(delivered) == sorted(written), "every event exactly once, none lost"
