"""A saga step with a fallback, guarded by a circuit breaker that fails fast once it opens.

Run it with `uv run python examples/saga_fallback.py`. The inventory step asks the warehouse
API, which is down: the fallback reserves from the shop's local stock instead. After two
failures the circuit opens and later orders go straight to the fallback without calling the
warehouse; once the reset timeout has passed and the warehouse is back, a trial call closes the
circuit. When a later step fails, the step that actually ran (the fallback) is compensated. The
same scenario runs with core's `cqrs.MemoryCircuitBreaker` and the seeds' `AioBreakerAdapter`.
"""

# expect: [memory] orders 3-4 failed fast: warehouse called 2 times for 4 orders, circuit open
# expect: [memory] warehouse back: WarehouseReservationStep, circuit closed
# expect: [aiobreaker] orders 3-4 failed fast: warehouse called 2 times for 4 orders, circuit open
# expect: [aiobreaker] warehouse back: WarehouseReservationStep, circuit closed
# expect: [memory] order 6: payment declined; compensated LocalStockReservationStep

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.saga import bootstrap
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult

WAREHOUSE = {"up": False, "calls": 0}
COMPENSATED: list[str] = []


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    total_amount: float
    reservation_id: str | None = None


class ReserveInventoryResponse(cqrs.Response):
    reservation_id: str


class WarehouseReservationStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        WAREHOUSE["calls"] += 1
        if not WAREHOUSE["up"]:
            raise ConnectionError("warehouse API unavailable")
        context.reservation_id = f"warehouse_{context.order_id}"
        return self._generate_step_result(ReserveInventoryResponse(reservation_id="warehouse"))


class LocalStockReservationStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        context.reservation_id = f"fallback_reservation_{context.order_id}"
        return self._generate_step_result(ReserveInventoryResponse(reservation_id="local"))

    async def compensate(self, context: OrderContext) -> None:
        COMPENSATED.append(type(self).__name__)


class ProcessPaymentStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        if context.total_amount > 1000:
            raise RuntimeError("payment declined")
        return self._generate_step_result(None)


async def run_orders(
    label: str,
    breaker: cqrs.CircuitBreaker,
    state: Callable[[], str],
    wait: Callable[[], Awaitable[None]],
) -> None:
    class OrderSaga(Saga[OrderContext]):
        steps = (
            Fallback(
                step=WarehouseReservationStep,
                fallback=LocalStockReservationStep,
                circuit_breaker=breaker,
            ),
            ProcessPaymentStep,
        )

    mediator = bootstrap.bootstrap(sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga))

    async def order(number: int, amount: float = 10.0) -> str:
        context = OrderContext(order_id=str(number), total_amount=amount)
        reserve, _ = await mediator.execute(context)
        return reserve.step_type.__name__

    WAREHOUSE.update(up=False, calls=0)
    for number in (1, 2, 3, 4):
        print(f"[{label}] order {number}: {await order(number)}, calls {WAREHOUSE['calls']}")
    print(
        f"[{label}] orders 3-4 failed fast: warehouse called {WAREHOUSE['calls']} times "
        f"for 4 orders, circuit {state()}"
    )

    await wait()
    WAREHOUSE["up"] = True
    print(f"[{label}] warehouse back: {await order(5)}, circuit {state()}")

    WAREHOUSE["up"] = False
    COMPENSATED.clear()
    try:
        await order(6, amount=5000.0)
    except RuntimeError as error:
        print(f"[{label}] order 6: {error}; compensated {', '.join(COMPENSATED)}")


async def main() -> None:
    now = [0.0]
    memory = cqrs.MemoryCircuitBreaker(failure_threshold=2, reset_timeout=30, clock=lambda: now[0])

    async def thirty_seconds_later() -> None:
        now[0] += 31

    await run_orders(
        "memory", memory, lambda: memory.state(WarehouseReservationStep), thirty_seconds_later
    )

    adapter = AioBreakerAdapter(fail_max=2, timeout_duration=0.2)

    def aio_state() -> str:
        return str(adapter.breaker(WarehouseReservationStep).current_state.name.lower())

    await run_orders("aiobreaker", adapter, aio_state, lambda: asyncio.sleep(0.3))


if __name__ == "__main__":
    asyncio.run(main())
