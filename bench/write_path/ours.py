"""Our side of the write-path benchmark: a command that writes an order and two outbox events.

Run by write_path_bench.py with the workspace interpreter; prints one JSON line. The handler
opens a session on `SqlAlchemyOutboxedEventRepository`, adds the business row, stages two
notification events with `outbox.add` and commits. Statements are counted with SQLAlchemy's
`before_cursor_execute` event; afterwards the tables must hold one order and two events per
command sent.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter

import sqlalchemy as sa
from _common import CPU_US, count_statements, rates, report
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import registry

import cqrs
from cqrs.requests.bootstrap import bootstrap
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

OrderPlaced = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]
_registry = registry()
"""This process's CPU µs per command of each `_rates` call (the last one is the measured run)."""
OUTBOX: SqlAlchemyOutboxedEventRepository


class Order:
    """The business row, mapped imperatively onto a fresh `bench_orders_*` table."""

    id: str
    customer: str
    amount: int


class PlaceOrder(cqrs.Request):
    order_id: str
    customer: str
    amount: int


def _order(request: PlaceOrder) -> Order:
    """The business row a command writes."""
    order = Order()
    order.id, order.customer, order.amount = request.order_id, request.customer, request.amount
    return order


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
    async def handle(self, request: PlaceOrder) -> None:
        async with OUTBOX as session:
            session.add(_order(request))
            body = {"order_id": request.order_id, "amount": request.amount}
            OUTBOX.add(
                session,
                OrderPlaced(
                    event_name="OrderPlaced",
                    topic="orders",
                    payload=body,
                    partition_key=request.order_id,
                ),
            )
            OUTBOX.add(
                session,
                OrderPlaced(
                    event_name="CustomerNotified",
                    topic="customers",
                    payload=body,
                    partition_key=request.customer,
                ),
            )
            await OUTBOX.commit(session)


class PlaceOrderOnly(PlaceOrder):
    """The same order without its events: the ceiling any outbox is measured against."""


class PlaceOrderOnlyHandler(cqrs.RequestHandler[PlaceOrderOnly, None]):
    async def handle(self, request: PlaceOrderOnly) -> None:
        async with OUTBOX as session:
            session.add(_order(request))
            await OUTBOX.commit(session)


async def main(postgres_url: str, count: int, repeats: int) -> None:
    global OUTBOX
    suffix = uuid.uuid4().hex[:10]
    engine = create_async_engine(postgres_url)
    OUTBOX = SqlAlchemyOutboxedEventRepository(engine, table=f"bench_wp_outbox_{suffix}")
    orders = sa.Table(
        f"bench_wp_orders_{suffix}",
        sa.MetaData(),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
    )
    _registry.map_imperatively(Order, orders)
    await OUTBOX.create_schema()
    async with engine.begin() as conn:
        await conn.run_sync(orders.create)

    def commands(mapper: cqrs.RequestMap) -> None:
        mapper.bind(PlaceOrder, PlaceOrderHandler)
        mapper.bind(PlaceOrderOnly, PlaceOrderOnlyHandler)

    mediator = bootstrap(commands_mapper=commands)
    try:
        warmup = max(count // 10, 20)
        await rates(mediator, PlaceOrder, warmup, 1, 10**9)
        verbs = count_statements(engine, OUTBOX.table.name)
        runs = await rates(mediator, PlaceOrder, count, repeats, 0)
        counted = Counter(verbs)
        sent = count * repeats
        async with engine.connect() as conn:
            stored_orders = await conn.scalar(sa.select(sa.func.count()).select_from(orders))
            stored_events = await conn.scalar(sa.select(sa.func.count()).select_from(OUTBOX.table))
        order_only = await rates(mediator, PlaceOrderOnly, count, repeats, 2 * 10**9)
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(orders.drop)
        await OUTBOX.drop_schema()
        await engine.dispose()
    if stored_orders != sent + warmup or stored_events != 2 * (sent + warmup):
        raise SystemExit(
            f"ours: {stored_orders} orders, {stored_events} events for {sent + warmup}"
        )
    report(
        "ours",
        cqrs.__file__,
        counted,
        sent,
        runs,
        order_only_cpu_us_per_command=CPU_US[2],
        order_only_commands_per_s=max(order_only),
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    sys.stdout.flush()
    os._exit(0)
