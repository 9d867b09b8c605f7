"""The seeds' order saga: reserve inventory, process payment, ship, each step compensable.

Run it with `uv run python examples/saga.py`. The first order goes through and its steps are
streamed one by one as each is persisted (in memory). The second order's shipment fails: the
completed steps are compensated in reverse order (refund, then release) and the step log shows
every act and compensation.
"""

# expect: step completed: ShipOrderStep -> Shipment(tracking_number='TRACK-1001')
# expect: order 1002 failed: no courier for Atlantis
# expect: order 1002 compensated: stock back to 8, balance back to 380.00

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import cqrs
from cqrs.saga import bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    user_id: str
    items: list[str]
    total_amount: float
    address: str
    inventory_reservation_id: str | None = None
    payment_id: str | None = None
    tracking_number: str | None = None


class Reservation(cqrs.Response):
    reservation_id: str


class Payment(cqrs.Response):
    payment_id: str


class Shipment(cqrs.Response):
    tracking_number: str


class Warehouse:
    """The inventory service the saga talks to (a singleton in the container)."""

    def __init__(self) -> None:
        self.stock = 10


class Wallet:
    """The payment service: one customer's balance."""

    def __init__(self) -> None:
        self.balance = 500.0


class ReserveInventoryStep(SagaStepHandler[OrderContext, Reservation]):
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Reservation]:
        self.warehouse.stock -= len(context.items)
        context.inventory_reservation_id = f"RES-{context.order_id}"
        return self._generate_step_result(Reservation(reservation_id=f"RES-{context.order_id}"))

    async def compensate(self, context: OrderContext) -> None:
        self.warehouse.stock += len(context.items)
        print(f"  compensate: released {context.inventory_reservation_id}")


class ProcessPaymentStep(SagaStepHandler[OrderContext, Payment]):
    def __init__(self, wallet: Wallet) -> None:
        self.wallet = wallet

    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Payment]:
        self.wallet.balance -= context.total_amount
        context.payment_id = f"PAY-{context.order_id}"
        return self._generate_step_result(Payment(payment_id=context.payment_id))

    async def compensate(self, context: OrderContext) -> None:
        self.wallet.balance += context.total_amount
        print(f"  compensate: refunded {context.payment_id} ({context.total_amount:.2f})")


class ShipOrderStep(SagaStepHandler[OrderContext, Shipment]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Shipment]:
        if context.address == "Atlantis":
            raise RuntimeError(f"no courier for {context.address}")
        context.tracking_number = f"TRACK-{context.order_id}"
        return self._generate_step_result(Shipment(tracking_number=context.tracking_number))


class OrderSaga(Saga[OrderContext]):
    steps = (ReserveInventoryStep, ProcessPaymentStep, ShipOrderStep)


async def print_log(storage: MemorySagaStorage, saga_id: uuid.UUID) -> None:
    for entry in await storage.get_step_history(saga_id):
        print(f"  log: {entry.step_name} - {entry.action} - {entry.status}")


async def main() -> None:
    container = cqrs.BuiltinContainer()
    container.register(Warehouse, lifetime="singleton")
    container.register(Wallet, lifetime="singleton")
    storage = MemorySagaStorage()
    mediator = bootstrap.bootstrap(
        di_container=container,
        sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga),
        saga_storage=storage,
    )
    warehouse, wallet = container.get(Warehouse), container.get(Wallet)

    print("order 1001: two books to Lisbon")
    context = OrderContext(
        order_id="1001", user_id="u1", items=["book", "book"], total_amount=120.0, address="Lisbon"
    )
    saga_id = uuid.uuid4()
    async for result in mediator.stream(context, saga_id=saga_id):
        print(f"step completed: {result.step_type.__name__} -> {result.response}")
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    print(f"order 1001 {state.status}: stock {warehouse.stock}, balance {wallet.balance:.2f}")
    await print_log(storage, saga_id)

    print("order 1002: a lamp to Atlantis")
    context = OrderContext(
        order_id="1002", user_id="u1", items=["lamp"], total_amount=80.0, address="Atlantis"
    )
    saga_id = uuid.uuid4()
    try:
        async for result in mediator.stream(context, saga_id=saga_id):
            print(f"step completed: {result.step_type.__name__}")
    except RuntimeError as error:
        print(f"order 1002 failed: {error}")
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    print(
        f"order 1002 {state.status}: stock back to {warehouse.stock}, "
        f"balance back to {wallet.balance:.2f}"
    )
    await print_log(storage, saga_id)


if __name__ == "__main__":
    asyncio.run(main())
