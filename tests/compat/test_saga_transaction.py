"""python-cqrs 4.x's `Saga.transaction` (its `SagaTransaction` docstrings) over our engine, on
memory and SQLite storage and on a storage written for 4.x's `ISagaStorage`."""

from __future__ import annotations

import dataclasses
import importlib.util
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import cqrs
from cqrs.saga.models import SagaContext
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga, SagaTransaction
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.enums import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage

calls: list[str] = []


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    fail_at: str = ""


class Reserved(cqrs.DomainEvent, frozen=True):
    order_id: str


class _Step(SagaStepHandler[OrderContext, str]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        name = type(self).__name__
        if context.fail_at == name:
            raise RuntimeError(f"{name} failed")
        calls.append(f"act {name}")
        return self._generate_step_result(name)

    async def compensate(self, context: OrderContext) -> None:
        calls.append(f"undo {type(self).__name__}")


class Reserve(_Step):
    def __init__(self) -> None:
        self._events: list[Reserved] = []

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, str]:
        result = await super().act(context)
        self._events.append(Reserved(order_id=context.order_id))
        return result


class Pay(_Step):
    pass


class Ship(_Step):
    pass


class OrderSaga(Saga[OrderContext]):
    steps = [Reserve, Pay, Ship]  # noqa: RUF012 - 4.x's style


def _four_x_storage() -> Any:
    spec = importlib.util.spec_from_file_location(
        "compat_saga_storage", Path(__file__).with_name("test_saga_storage.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FourXMemoryStorage()


@pytest.fixture(params=["memory", "sqlite", "4.x storage"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    calls.clear()
    if request.param == "memory":
        yield MemorySagaStorage()
    elif request.param == "4.x storage":
        yield _four_x_storage()
    else:
        from sqlalchemy.ext.asyncio import create_async_engine

        from cqrs_sqla import SqlAlchemySagaStorage

        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'saga.db'}")
        sql = SqlAlchemySagaStorage(engine)
        await sql.create_schema()
        yield sql
        await engine.dispose()


def _transaction(storage: Any, context: OrderContext, **options: Any) -> SagaTransaction[Any]:
    return OrderSaga().transaction(
        context=context,
        container=None,
        storage=storage,
        compensation_retry_delay=0,
        **options,
    )


async def _drain(transaction: SagaTransaction[Any]) -> None:
    async with transaction:
        async for _ in transaction:
            pass


async def _status(storage: Any, saga_id: uuid.UUID) -> SagaStatus:
    status, _, _ = await storage.load_saga_state(saga_id)
    return SagaStatus(str(getattr(status, "value", status)))


async def test_each_iteration_yields_a_step_result_with_the_saga_id(storage: Any) -> None:
    async with _transaction(storage, OrderContext(order_id="1")) as transaction:
        results = [result async for result in transaction]
    assert [r.step_type for r in results] == [Reserve, Pay, Ship]
    assert [r.response for r in results] == ["Reserve", "Pay", "Ship"]
    assert {r.saga_id for r in results} == {transaction.saga_id}
    assert [type(step) for step in transaction.completed_steps] == [Reserve, Pay, Ship]
    assert list(transaction.completed_steps[0].events) == [Reserved(order_id="1")]
    assert await _status(storage, transaction.saga_id) == SagaStatus.COMPLETED


async def test_a_failing_step_compensates_and_raises_its_error(storage: Any) -> None:
    tx = _transaction(storage, OrderContext(order_id="2", fail_at="Ship"))
    with pytest.raises(RuntimeError, match="Ship failed"):
        await _drain(tx)
    assert calls == ["act Reserve", "act Pay", "undo Pay", "undo Reserve"]
    assert await _status(storage, tx.saga_id) in (SagaStatus.COMPENSATED, SagaStatus.FAILED)


async def test_an_exception_in_the_body_compensates_the_steps_done(storage: Any) -> None:
    with pytest.raises(KeyError):  # noqa: PT012 - the body raising is what is tested
        async with _transaction(storage, OrderContext(order_id="3")) as tx:
            async for result in tx:
                if result.step_type is Pay:
                    raise KeyError("caller")
    assert calls == ["act Reserve", "act Pay", "undo Pay", "undo Reserve"]
    assert await _status(storage, tx.saga_id) in (SagaStatus.COMPENSATED, SagaStatus.FAILED)


async def test_break_leaves_the_saga_to_resume_with_its_id(storage: Any) -> None:
    async with _transaction(storage, OrderContext(order_id="4")) as first:
        async for _ in first:
            break
    assert await _status(storage, first.saga_id) == SagaStatus.RUNNING
    context = OrderContext(order_id="4")
    async with _transaction(storage, context, saga_id=first.saga_id) as second:
        resumed = [result.step_type async for result in second]
    assert resumed == [Pay, Ship]
    assert calls == ["act Reserve", "act Pay", "act Ship"]
    assert [type(step) for step in second.completed_steps] == [Reserve, Pay, Ship]
    assert await _status(storage, first.saga_id) == SagaStatus.COMPLETED

    async with _transaction(storage, context, saga_id=first.saga_id) as third:
        assert [result async for result in third] == []


async def test_a_compensated_saga_refuses_to_go_forward(storage: Any) -> None:
    tx = _transaction(storage, OrderContext(order_id="5", fail_at="Pay"))
    with pytest.raises(RuntimeError):
        await _drain(tx)
    again = _transaction(storage, OrderContext(order_id="5"), saga_id=tx.saga_id)
    with pytest.raises(RuntimeError, match="Forward execution is not allowed"):
        await _drain(again)


async def test_an_unknown_saga_id_starts_a_new_saga_with_it(storage: Any) -> None:
    saga_id = uuid.uuid4()
    async with _transaction(storage, OrderContext(order_id="6"), saga_id=saga_id) as tx:
        assert tx.saga_id == saga_id
        assert len([result async for result in tx]) == 3
    assert await _status(storage, saga_id) == SagaStatus.COMPLETED


async def test_recover_saga_of_an_unknown_id_raises_value_error(storage: Any) -> None:
    with pytest.raises(ValueError, match="not found"):
        await recover_saga(OrderSaga(), uuid.uuid4(), OrderContext, None, storage)


async def test_a_saga_driven_elsewhere_is_not_taken() -> None:
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "OrderSaga", {"order_id": "7"}, owner="w", lease_seconds=60)
    tx = _transaction(storage, OrderContext(order_id="7"), saga_id=saga_id)
    with pytest.raises(cqrs.errors.SagaConcurrencyError, match="driven by w"):
        await _drain(tx)
    assert calls == []
