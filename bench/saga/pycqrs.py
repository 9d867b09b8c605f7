"""python-cqrs 5.3.0's side of the saga benchmark, written with its own API (its own venv).

Same 3-step saga as ours.py, on its MemorySagaStorage and its SqlAlchemySagaStorage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time
from typing import Any

import di

from cqrs import Response, Saga, SagaStepHandler
from cqrs.bootstrap import saga as saga_bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.storage.memory import MemorySagaStorage

ACTS = 0


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    reserved: bool = False
    paid: bool = False
    shipped: bool = False


class Done(Response):
    order_id: str


class Reserve(SagaStepHandler[OrderContext, Done]):
    @property
    def events(self) -> list[Any]:
        return []

    async def act(self, context: OrderContext) -> Any:
        global ACTS
        ACTS += 1
        context.reserved = True
        return self._generate_step_result(Done(order_id=context.order_id))

    async def compensate(self, context: OrderContext) -> None:
        return None


class Pay(Reserve):
    pass


class Ship(Reserve):
    pass


class OrderSaga(Saga[OrderContext]):
    steps = [Reserve, Pay, Ship]  # noqa: RUF012 - python-cqrs's documented style


def _mediator(storage: Any) -> Any:
    return saga_bootstrap.bootstrap(
        di_container=di.Container(),
        sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga),
        saga_storage=storage,
    )


async def _rate(mediator: Any, count: int, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for n in range(count):
            async for _ in mediator.execute(OrderContext(order_id=str(n))):
                pass
        best = max(best, count / (time.perf_counter() - started))
    return best


async def main(postgres_url: str, memory_count: int, pg_count: int) -> None:
    import logging

    logging.getLogger("cqrs").setLevel(logging.WARNING)
    memory = _mediator(MemorySagaStorage())
    await _rate(memory, 50, 1)
    memory_rate = await _rate(memory, memory_count, 5)

    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from cqrs.saga.storage.sqlalchemy import Base, SqlAlchemySagaStorage

    engine = create_async_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        pg = _mediator(SqlAlchemySagaStorage(async_sessionmaker(engine, expire_on_commit=False)))
        await _rate(pg, 10, 1)
        statements = 0
        pg_rate = await _rate(pg, pg_count, 3)
        per_saga = statements / (pg_count * 3)
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
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
