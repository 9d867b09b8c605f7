"""The order saga on PostgreSQL, its notification event written to the outbox atomically.

Run it with `uv run python examples/saga_postgres.py` (PostgreSQL from `CQRS_TEST_POSTGRES_URL`,
by default `postgresql+asyncpg://postgres@127.0.0.1:5432/test`). `SqlAlchemySagaStorage` keeps
the saga state and step log in two tables; given the outbox of the same database, the
`OrderPaid` event the payment step emits is inserted in the same transaction as that step's
transition. The second order's payment is declined: the saga is compensated and, its payment
step never having completed, nothing reaches the outbox. The tables are dropped at the end.
"""

# needs: postgres
# expect: order 1001: completed
# expect: order 1002: compensated (payment declined)
# expect: outbox row 1: OrderPaid on 'orders' key 1001 pending {'order_id': '1001', 'amount': 120.0}
# expect: 1 outbox row(s)

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.saga import SagaMediator, bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs_sqla import SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage

POSTGRES_URL = os.environ.get(
    "CQRS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    items: list[str]
    total_amount: float
    inventory_reservation_id: str | None = None
    payment_id: str | None = None


class OrderPaid(cqrs.Response):
    order_id: str
    amount: float


class ReserveInventoryStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        context.inventory_reservation_id = f"RES-{context.order_id}"
        return self._generate_step_result(None)

    async def compensate(self, context: OrderContext) -> None:
        context.inventory_reservation_id = None


class ProcessPaymentStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        if context.total_amount > 1000:
            raise RuntimeError("payment declined")
        context.payment_id = f"PAY-{context.order_id}"
        self._events = [
            cqrs.NotificationEvent[OrderPaid](
                event_name="OrderPaid",
                topic="orders",
                payload=OrderPaid(order_id=context.order_id, amount=context.total_amount),
                partition_key=context.order_id,
            )
        ]
        return self._generate_step_result(None)


class ShipOrderStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        return self._generate_step_result(None)


class OrderSaga(Saga[OrderContext]):
    steps = (ReserveInventoryStep, ProcessPaymentStep, ShipOrderStep)


async def run_order(
    mediator: SagaMediator, storage: SqlAlchemySagaStorage, context: OrderContext
) -> None:
    saga_id = uuid.uuid4()
    outcome = ""
    try:
        await mediator.execute(context, saga_id=saga_id)
    except RuntimeError as error:
        outcome = f" ({error})"
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    print(f"order {context.order_id}: {state.status}{outcome}")
    for entry in await storage.get_step_history(saga_id):
        print(f"  log: {entry.step_name} - {entry.action} - {entry.status}")


async def print_outbox(outbox: SqlAlchemyOutboxedEventRepository) -> None:
    t = outbox.table.c
    query = sa.select(t.event_name, t.topic, t.partition_key, t.status, t.payload).order_by(t.id)
    async with outbox.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    for number, row in enumerate(rows, start=1):
        payload = json.loads(row.payload)["payload"]
        status = "pending" if row.status == 0 else f"status {row.status}"
        print(
            f"outbox row {number}: {row.event_name} on {row.topic!r} key {row.partition_key} "
            f"{status} {payload}"
        )
    print(f"{len(rows)} outbox row(s)")


async def main() -> None:
    engine = create_async_engine(POSTGRES_URL)
    suffix = uuid.uuid4().hex[:8]  # tables of their own, so concurrent runs do not meet
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=f"example_outbox_{suffix}")
    storage = SqlAlchemySagaStorage(engine, table=f"example_saga_{suffix}", outbox=outbox)
    await outbox.create_schema()
    await storage.create_schema()
    try:
        mediator = bootstrap.bootstrap(
            sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga), saga_storage=storage
        )
        paid = OrderContext(order_id="1001", items=["book", "book"], total_amount=120.0)
        declined = OrderContext(order_id="1002", items=["tv"], total_amount=5000.0)
        await run_order(mediator, storage, paid)
        await run_order(mediator, storage, declined)
        await print_outbox(outbox)
    finally:
        await storage.drop_schema()
        await outbox.drop_schema()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
