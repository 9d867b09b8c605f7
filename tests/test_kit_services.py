"""One application test, run by the test kit in memory and against PostgreSQL and RabbitMQ.

The test body never names an adapter: `AdapterUrls` (what `--cqrs-*` / `CQRS_KIT_*` give the
`cqrs_app` fixture) decides, as in an application's integration job.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest

import cqrs
from cqrs.saga import Saga, SagaContext, SagaStepHandler, SagaStepResult
from cqrs.saga.models import SagaStatus
from cqrs.testing import AdapterUrls, AppHarness
from cqrs.testing._support.services import require_service


class Accepted(cqrs.Response):
    order_id: str


AcceptedEvent = cqrs.NotificationEvent[Accepted]
TOPIC = f"kit-orders-{uuid.uuid4().hex[:8]}"


class Accept(cqrs.Request):
    order_id: str


class AcceptHandler(cqrs.RequestHandler[Accept, None]):
    def __init__(self, outbox: cqrs.OutboxedEventRepository) -> None:
        self.outbox = outbox

    async def handle(self, request: Accept) -> None:
        async with self.outbox as session:
            self.outbox.add(
                session,
                AcceptedEvent(
                    event_name="Accepted",
                    topic=TOPIC,
                    payload=Accepted(order_id=request.order_id),
                    partition_key=request.order_id,
                ),
            )
            await self.outbox.commit(session)


class Ship(SagaContext):
    done: list[str] = dataclasses.field(default_factory=list)


class Pack(SagaStepHandler[Ship, None]):
    async def act(self, context: Ship) -> SagaStepResult[Ship, None]:
        context.done.append("pack")
        return self._generate_step_result(None)

    async def compensate(self, context: Ship) -> None:
        context.done.append("unpack")


class Send(SagaStepHandler[Ship, None]):
    async def act(self, context: Ship) -> SagaStepResult[Ship, None]:
        context.done.append("send")
        return self._generate_step_result(None)


class Shipping(Saga[Ship]):
    steps = (Pack, Send)


def _memory() -> AdapterUrls:
    return AdapterUrls()


def _services() -> AdapterUrls:
    database = require_service("postgres").url
    suffix = uuid.uuid4().hex[:8]
    return AdapterUrls(
        broker=require_service("rabbitmq").url,
        outbox=f"{database}?table=kit_outbox_{suffix}",
        saga_storage=f"{database}?table=kit_sagas_{suffix}",
    )


@pytest.mark.parametrize(
    "urls",
    [
        pytest.param(_memory, id="memory"),
        pytest.param(
            _services, id="postgres-rabbitmq", marks=[pytest.mark.postgres, pytest.mark.rabbitmq]
        ),
    ],
)
async def test_the_same_test_runs_in_memory_and_on_services(
    urls: Callable[[], AdapterUrls],
) -> None:
    chosen = urls()
    try:
        await _run(chosen)
    finally:
        await _drop_tables(chosen)


async def _drop_tables(urls: AdapterUrls) -> None:
    """Drop the tables a services run created (they are unique to the run)."""
    if urls.outbox.startswith("postgresql"):
        from cqrs_sqla import SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage

        outbox = SqlAlchemyOutboxedEventRepository.from_url(urls.outbox)
        sagas = SqlAlchemySagaStorage.from_url(urls.saga_storage)
        try:
            await outbox.drop_schema()
            await sagas.drop_schema()
        finally:
            await outbox.close()
            await sagas.close()


async def _run(urls: AdapterUrls) -> None:
    async with AppHarness(
        commands_mapper=lambda m: m.bind(Accept, AcceptHandler),
        sagas_mapper=lambda m: m.bind(Ship, Shipping),
        urls=urls,
    ) as app:
        declare = getattr(app.broker, "declare_queue", None)
        if declare is not None:  # RabbitMQ keeps a message only for a bound queue
            await declare(f"{TOPIC}-queue", [TOPIC], exclusive=True)
        await app.send(Accept(order_id="K-1"))
        await app.send(Accept(order_id="K-2"))
        assert await app.relay() == 2
        app.published.assert_published([(TOPIC, "Accepted", "K-1"), (TOPIC, "Accepted", "K-2")])

        app.step_failures.fail(Send, ConnectionError("carrier down"))
        run = app.saga(Ship())
        await run.step()
        with pytest.raises(ConnectionError):
            await run.step()
        assert await run.status() is SagaStatus.COMPENSATED
        assert run.context.done == ["pack", "unpack"]
