"""python-cqrs 5.3.0's side of the write-path benchmark, written with its own API (its own venv).

The same command as ours.py: the handler opens an `AsyncSession`, adds the order, puts two
notification events in its `SqlAlchemyOutboxedEventRepository` (built on that session, as its
documentation shows) and commits through the repository. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from typing import Any

import di
import sqlalchemy as sa
from _common import count_statements, rates, report
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry

import cqrs
from cqrs.bootstrap.requests import bootstrap
from cqrs.outbox.sqlalchemy import (
    OutboxModel,
    SqlAlchemyOutboxedEventRepository,
    rebind_outbox_model,
)

OrderPlaced = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]
_registry = registry()
"""This process's CPU µs per command of each `_rates` call (the last one is the measured run)."""
SESSIONS: async_sessionmaker[AsyncSession]


class Order:
    """The business row, mapped imperatively onto a fresh `bench_orders_*` table."""

    id: str
    customer: str
    amount: int


class PlaceOrder(cqrs.Request):
    order_id: str
    customer: str
    amount: int


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
    @property
    def events(self) -> list[Any]:
        return []

    async def handle(self, request: PlaceOrder) -> None:
        async with SESSIONS() as session:
            outbox = SqlAlchemyOutboxedEventRepository(session)
            order = Order()
            order.id, order.customer, order.amount = (
                request.order_id,
                request.customer,
                request.amount,
            )
            session.add(order)
            body = {"order_id": request.order_id, "amount": request.amount}
            outbox.add(OrderPlaced(event_name="OrderPlaced", topic="orders", payload=body))
            outbox.add(OrderPlaced(event_name="CustomerNotified", topic="customers", payload=body))
            await outbox.commit()


async def main(postgres_url: str, count: int, repeats: int) -> None:
    global SESSIONS
    suffix = uuid.uuid4().hex[:10]
    outbox_table = f"bench_wp_pycqrs_outbox_{suffix}"
    rebind_outbox_model(OutboxModel, registry().generate_base(), outbox_table)
    cqrs.OutboxedEventMap.register("OrderPlaced", OrderPlaced)
    cqrs.OutboxedEventMap.register("CustomerNotified", OrderPlaced)
    engine = create_async_engine(postgres_url)
    SESSIONS = async_sessionmaker(engine, expire_on_commit=False)
    orders = sa.Table(
        f"bench_wp_pycqrs_orders_{suffix}",
        sa.MetaData(),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
    )
    _registry.map_imperatively(Order, orders)
    outbox = OutboxModel.__table__
    async with engine.begin() as conn:
        await conn.run_sync(orders.create)
        await conn.run_sync(outbox.create)
    mediator = bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda m: m.bind(PlaceOrder, PlaceOrderHandler),
    )
    try:
        warmup = max(count // 10, 20)
        await rates(mediator, PlaceOrder, warmup, 1, 10**9)
        verbs = count_statements(engine, outbox_table)
        runs = await rates(mediator, PlaceOrder, count, repeats, 0)
        counted = Counter(verbs)
        sent = count * repeats
        async with engine.connect() as conn:
            stored_orders = await conn.scalar(sa.select(sa.func.count()).select_from(orders))
            stored_events = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(orders.drop)
            await conn.run_sync(outbox.drop)
            await conn.execute(sa.text("DROP TYPE IF EXISTS eventstatus"))
        await engine.dispose()
    if stored_orders != sent + warmup or stored_events != 2 * (sent + warmup):
        raise SystemExit(
            f"python-cqrs: {stored_orders} orders, {stored_events} events for {sent + warmup}"
        )
    report("pycqrs", cqrs.__file__, counted, sent, runs)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    sys.stdout.flush()
    os._exit(0)
