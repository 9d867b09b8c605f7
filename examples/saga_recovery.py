"""Recovering sagas interrupted by a crash: by hand with `recover_saga`, then by a worker.

Run it with `uv run python examples/saga_recovery.py`. A `Crash` (a BaseException, as if the
process died) stops the first order's saga in its payment step; `recover_saga` resumes it at
that step: the inventory reservation, already recorded as done, is not executed again. The
second order's shipment fails and its refund crashes midway through compensation; the
mediator's recovery worker (publishing resumed steps' events to the same broker) finds the
stale saga and finishes compensating it.
"""

# expect: recover_saga -> completed; acts run: reserve=1 pay=2 ship=1
# expect: worker recovered {'compensated': 1}; refund=2 release=1
# expect: log: ReserveInventoryStep - compensate - compensated

from __future__ import annotations

import asyncio
import collections
import dataclasses
import uuid

from cqrs.saga import SagaMediator, bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

LEASE = 0.1
"""Seconds a saga driver holds its lease (short here, so recovery can start quickly)."""

CALLS: collections.Counter[str] = collections.Counter()
CRASH_ON: set[str] = set()


class Crash(BaseException):
    """Stands in for the process dying: not an `Exception`, so nothing compensates it."""


def run(name: str) -> None:
    """Count a call, crashing instead the first time if `name` is armed."""
    CALLS[name] += 1
    if name in CRASH_ON:
        CRASH_ON.discard(name)
        raise Crash(name)


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    address: str
    reservation_id: str | None = None
    payment_id: str | None = None


class ReserveInventoryStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        run("reserve")
        context.reservation_id = f"RES-{context.order_id}"
        return self._generate_step_result(None)

    async def compensate(self, context: OrderContext) -> None:
        run("release")


class ProcessPaymentStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        run("pay")
        context.payment_id = f"PAY-{context.order_id}"
        return self._generate_step_result(None)

    async def compensate(self, context: OrderContext) -> None:
        run("refund")


class ShipOrderStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        run("ship")
        if context.address == "Atlantis":
            raise RuntimeError("no courier for Atlantis")
        return self._generate_step_result(None)


class OrderSaga(Saga[OrderContext]):
    steps = (ReserveInventoryStep, ProcessPaymentStep, ShipOrderStep)


async def start_and_crash(mediator: SagaMediator, context: OrderContext) -> uuid.UUID:
    saga_id = uuid.uuid4()
    try:
        await mediator.execute(context, saga_id=saga_id)
    except Crash as crash:
        print(f"order {context.order_id}: process crashed in {crash}")
    return saga_id


async def print_log(storage: MemorySagaStorage, saga_id: uuid.UUID) -> None:
    for entry in await storage.get_step_history(saga_id):
        print(f"  log: {entry.step_name} - {entry.action} - {entry.status}")


async def main() -> None:
    storage = MemorySagaStorage()
    mediator = bootstrap.bootstrap(
        sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga),
        saga_storage=storage,
        message_broker="memory://",
    )
    mediator.lease_seconds = LEASE

    CRASH_ON.add("pay")
    first = await start_and_crash(mediator, OrderContext(order_id="1001", address="Lisbon"))
    state = await storage.load_saga_state(first)
    assert state is not None
    print(
        f"order 1001 left {state.status}; acts run: reserve={CALLS['reserve']} pay={CALLS['pay']}"
    )
    await asyncio.sleep(2 * LEASE)  # the crashed run's lease runs out
    result = await recover_saga(
        saga=OrderSaga(), saga_id=first, context_builder=OrderContext, storage=storage
    )
    print(
        f"recover_saga -> {result.status}; acts run: "
        f"reserve={CALLS['reserve']} pay={CALLS['pay']} ship={CALLS['ship']}"
    )
    await print_log(storage, first)

    CALLS.clear()
    CRASH_ON.add("refund")
    second = await start_and_crash(mediator, OrderContext(order_id="1002", address="Atlantis"))
    state = await storage.load_saga_state(second)
    assert state is not None
    print(f"order 1002 left {state.status}; refund={CALLS['refund']} release={CALLS['release']}")

    worker = mediator.recovery_worker(stale_after=LEASE, lease_seconds=5.0, poll_interval=0.05)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(5):
        while (state := await storage.load_saga_state(second)) and not state.status.terminal:
            await asyncio.sleep(0.05)
    worker.stop()
    recovered = await running
    counts = {str(status): n for status, n in recovered.items()}
    print(f"worker recovered {counts}; refund={CALLS['refund']} release={CALLS['release']}")
    await print_log(storage, second)


if __name__ == "__main__":
    asyncio.run(main())
