"""Our side of the write-path benchmark: a command that writes an order and two outbox events.

Run by write_path_bench.py with the workspace interpreter; prints one JSON line. The handler
opens a session on `SqlAlchemyOutboxedEventRepository`, adds the business row, stages two
notification events with `outbox.add` and commits. Statements are counted with SQLAlchemy's
`before_cursor_execute` event; afterwards the tables must hold one order and two events per
command sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import registry

import cqrs
from cqrs.requests.bootstrap import bootstrap
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

OrderPlaced = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]
_registry = registry()
CPU_US: list[float] = []
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


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
    async def handle(self, request: PlaceOrder) -> None:
        async with OUTBOX as session:
            order = Order()
            order.id, order.customer, order.amount = (
                request.order_id,
                request.customer,
                request.amount,
            )
            session.add(order)
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
            order = Order()
            order.id, order.customer, order.amount = (
                request.order_id,
                request.customer,
                request.amount,
            )
            session.add(order)
            await OUTBOX.commit(session)


def _count(engine: AsyncEngine) -> Counter[str]:
    verbs: Counter[str] = Counter()

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        verbs[sql.lstrip().split(None, 1)[0].upper()] += 1
        if sql.lstrip().upper().startswith(f"INSERT INTO {OUTBOX.table.name.upper()}"):
            verbs["outbox_insert"] += 1

    def commit(conn: Any) -> None:
        verbs["commit"] += 1

    sa_event.listen(engine.sync_engine, "before_cursor_execute", statement)
    sa_event.listen(engine.sync_engine, "commit", commit)
    return verbs


async def _rates(
    mediator: Any, count: int, repeats: int, start: int, kind: type[PlaceOrder] = PlaceOrder
) -> list[float]:
    rates = []
    cpu = time.process_time()
    for r in range(repeats):
        commands = [
            kind(order_id=f"o-{start + r * count + n}", customer=f"c-{n % 50}", amount=n)
            for n in range(count)
        ]
        started = time.perf_counter()
        for command in commands:
            await mediator.send(command)
        rates.append(count / (time.perf_counter() - started))
    CPU_US.append((time.process_time() - cpu) / (count * repeats) * 1e6)
    return rates


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
        await _rates(mediator, warmup, 1, 10**9)
        verbs = _count(engine)
        rates = await _rates(mediator, count, repeats, 0)
        counted = dict(verbs)
        sent = count * repeats
        async with engine.connect() as conn:
            stored_orders = await conn.scalar(sa.select(sa.func.count()).select_from(orders))
            stored_events = await conn.scalar(sa.select(sa.func.count()).select_from(OUTBOX.table))
        order_only = await _rates(mediator, count, repeats, 2 * 10**9, PlaceOrderOnly)
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(orders.drop)
        await OUTBOX.drop_schema()
        await engine.dispose()
    if stored_orders != sent + warmup or stored_events != 2 * (sent + warmup):
        raise SystemExit(
            f"ours: {stored_orders} orders, {stored_events} events for {sent + warmup}"
        )
    outbox_inserts = counted.pop("outbox_insert", 0)
    commits = counted.pop("commit", 0)
    print(
        json.dumps(
            {
                "side": "ours",
                "cqrs_file": cqrs.__file__,
                "commands": sent,
                "best_commands_per_s": max(rates),
                "median_commands_per_s": statistics.median(rates),
                "statements_per_command": sum(counted.values()) / sent,
                "statements_by_verb": {verb: n / sent for verb, n in sorted(counted.items())},
                "commits_per_command": commits / sent,
                "cpu_us_per_command": CPU_US[1],
                "order_only_cpu_us_per_command": CPU_US[2],
                "order_only_commands_per_s": max(order_only),
                "outbox_inserts_per_command": outbox_inserts / sent,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    sys.stdout.flush()
    os._exit(0)
