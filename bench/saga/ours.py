"""Our side of the saga benchmark: a 3-step saga on memory and on PostgreSQL storage.

Prints JSON: sagas/s for each storage and SQL statements per saga on PostgreSQL (counted with
SQLAlchemy's `before_cursor_execute` event, and around the compiled statements cqrs-sqla runs
on asyncpg; each is one autocommitted round trip).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import cqrs
from cqrs.saga import Saga, SagaContext, SagaStepHandler
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.storage.memory import MemorySagaStorage

ACTS = 0


class OrderContext(SagaContext):
    order_id: str
    reserved: bool = False
    paid: bool = False
    shipped: bool = False


class Done(cqrs.Response):
    order_id: str


class Reserve(SagaStepHandler[OrderContext, Done]):
    async def act(self, context: OrderContext) -> Any:
        global ACTS
        ACTS += 1
        context.reserved = True
        return self._generate_step_result(Done(order_id=context.order_id))


class Pay(Reserve):
    pass


class Ship(Reserve):
    pass


class OrderSaga(Saga[OrderContext]):
    steps = (Reserve, Pay, Ship)


async def _rate(mediator: Any, count: int, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for n in range(count):
            async for _ in mediator.stream(OrderContext(order_id=str(n))):
                pass
        best = max(best, count / (time.perf_counter() - started))
    return best


async def main(postgres_url: str, memory_count: int, pg_count: int) -> None:
    memory = bootstrap(
        sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga), saga_storage=MemorySagaStorage()
    )
    await _rate(memory, 200, 1)
    memory_rate = await _rate(memory, memory_count, 5)

    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    from cqrs_sqla import SqlAlchemySagaStorage

    engine = create_async_engine(postgres_url)
    storage = SqlAlchemySagaStorage(engine, table=f"bench_saga_{uuid.uuid4().hex[:8]}")
    await storage.create_schema()
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    from cqrs_sqla.dialects import _statements

    run_on_driver = _statements.run_on_driver

    async def counted(*args: Any) -> Any:
        count()
        return await run_on_driver(*args)

    _statements.run_on_driver = counted  # PostgreSQL's hot statements run compiled on asyncpg
    try:
        pg = bootstrap(sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga), saga_storage=storage)
        await _rate(pg, 20, 1)
        statements = 0
        pg_rate = await _rate(pg, pg_count, 3)
        per_saga = statements / (pg_count * 3)
    finally:
        await storage.drop_schema()
        await engine.dispose()
    print(
        json.dumps(
            {
                "memory_sagas_per_s": memory_rate,
                "postgres_sagas_per_s": pg_rate,
                "postgres_statements_per_saga": per_saga,
                "acts": ACTS,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    os._exit(0)
