"""An application written for python-cqrs 4.x, with 4.x imports only, running unchanged here.

Run it with `uv run python examples/pycqrs4_app.py`; the same file prints the same lines under
python-cqrs 4.10.1 (with dependency-injector and aiobreaker installed). It wires everything
through a dependency-injector container the 4.x way (handlers and saga steps declared as
providers), sends a command whose handler writes to the 4.x outbox test double and emits a
domain event, serves a query through a fallback guarded by an aiobreaker circuit, and runs a
saga with 4.x's `Saga.transaction`, whose last step fails so the others are compensated.
"""

# expect: placed o1 for ada; outbox: ['orders']
# expect: domain event: o1 placed by ada
# expect: order o1: ada, 2 x book
# expect: prices: ['live', 'cache', 'cache'] live calls: 2
# expect: saga steps: ['ReserveStock', 'ChargeCard']
# expect: saga failed: card declined; compensated: ['ChargeCard', 'ReserveStock']

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from dependency_injector import containers, providers

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.events.event import DomainEvent, NotificationEvent
from cqrs.message_brokers import devnull
from cqrs.outbox.mock import MockOutboxedEventRepository
from cqrs.requests import bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage


class PlaceOrder(cqrs.Request):
    order_id: str
    customer: str
    item: str
    quantity: int


class GetOrder(cqrs.Request):
    order_id: str


class OrderView(cqrs.Response):
    order_id: str
    customer: str
    line: str


class GetPrice(cqrs.Request):
    item: str


class Price(cqrs.Response):
    item: str
    source: str


class OrderPlaced(DomainEvent):
    order_id: str
    customer: str


class OrderPlacedPayload(cqrs.Response):
    order_id: str


class OrderStore:
    def __init__(self) -> None:
        self.orders: dict[str, PlaceOrder] = {}


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
    def __init__(self, store: OrderStore, outbox: MockOutboxedEventRepository) -> None:
        self._store = store
        self._outbox = outbox
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events.copy()

    async def handle(self, request: PlaceOrder) -> None:
        self._store.orders[request.order_id] = request
        async with self._outbox:
            self._outbox.add(
                NotificationEvent[OrderPlacedPayload](
                    event_name="OrderPlaced",
                    topic="orders",
                    payload=OrderPlacedPayload(order_id=request.order_id),
                )
            )
            await self._outbox.commit()
        self._events.append(OrderPlaced(order_id=request.order_id, customer=request.customer))
        pending = await self._outbox.get_many()
        topics = [row.topic for row in pending]
        print(f"placed {request.order_id} for {request.customer}; outbox: {topics}")


class GetOrderHandler(cqrs.RequestHandler[GetOrder, OrderView]):
    def __init__(self, store: OrderStore) -> None:
        self._store = store

    @property
    def events(self) -> list[cqrs.Event]:
        return []

    async def handle(self, request: GetOrder) -> OrderView:
        order = self._store.orders[request.order_id]
        line = f"{order.quantity} x {order.item}"
        return OrderView(order_id=order.order_id, customer=order.customer, line=line)


class OrderPlacedHandler(cqrs.EventHandler[OrderPlaced]):
    async def handle(self, event: OrderPlaced) -> None:
        print(f"domain event: {event.order_id} placed by {event.customer}")


LIVE_CALLS: list[str] = []


class LivePriceHandler(cqrs.RequestHandler[GetPrice, Price]):
    @property
    def events(self) -> list[cqrs.Event]:
        return []

    async def handle(self, request: GetPrice) -> Price:
        LIVE_CALLS.append(request.item)
        if len(LIVE_CALLS) > 1:
            raise ConnectionError("pricing service down")
        return Price(item=request.item, source="live")


class CachedPriceHandler(cqrs.RequestHandler[GetPrice, Price]):
    @property
    def events(self) -> list[cqrs.Event]:
        return []

    async def handle(self, request: GetPrice) -> Price:
        return Price(item=request.item, source="cache")


@dataclasses.dataclass
class CheckoutContext(SagaContext):
    order_id: str
    reserved: bool = False
    charged: bool = False


COMPENSATED: list[str] = []


class ReserveStock(SagaStepHandler[CheckoutContext, None]):
    async def act(self, context: CheckoutContext) -> SagaStepResult[CheckoutContext, None]:
        context.reserved = True
        return self._generate_step_result(None)

    async def compensate(self, context: CheckoutContext) -> None:
        context.reserved = False
        COMPENSATED.append(type(self).__name__)


class ChargeCard(SagaStepHandler[CheckoutContext, None]):
    async def act(self, context: CheckoutContext) -> SagaStepResult[CheckoutContext, None]:
        context.charged = True
        return self._generate_step_result(None)

    async def compensate(self, context: CheckoutContext) -> None:
        context.charged = False
        COMPENSATED.append(type(self).__name__)


class ConfirmPayment(SagaStepHandler[CheckoutContext, None]):
    async def act(self, context: CheckoutContext) -> SagaStepResult[CheckoutContext, None]:
        raise RuntimeError("card declined")

    async def compensate(self, context: CheckoutContext) -> None:
        COMPENSATED.append(type(self).__name__)


class CheckoutSaga(Saga[CheckoutContext]):
    steps = [ReserveStock, ChargeCard, ConfirmPayment]  # noqa: RUF012 (4.x wants a list)


class Application(containers.DeclarativeContainer):
    store = providers.Singleton(OrderStore)
    outbox = providers.Singleton(MockOutboxedEventRepository, session_factory=dict)
    place_order = providers.Factory(PlaceOrderHandler, store=store, outbox=outbox)
    get_order = providers.Factory(GetOrderHandler, store=store)
    order_placed = providers.Factory(OrderPlacedHandler)
    live_price = providers.Factory(LivePriceHandler)
    cached_price = providers.Factory(CachedPriceHandler)
    reserve_stock = providers.Factory(ReserveStock)
    charge_card = providers.Factory(ChargeCard)
    confirm_payment = providers.Factory(ConfirmPayment)


PRICE_BREAKER = AioBreakerAdapter(fail_max=1, timeout_duration=60)


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(GetOrder, GetOrderHandler)
    mapper.bind(
        GetPrice,
        cqrs.RequestHandlerFallback(
            LivePriceHandler,
            CachedPriceHandler,
            failure_exceptions=(ConnectionError,),
            circuit_breaker=PRICE_BREAKER,
        ),
    )


async def main() -> None:
    container = DependencyInjectorCQRSContainer()
    container.attach_external_container(Application())
    mediator = bootstrap.bootstrap(
        di_container=container,
        message_broker=devnull.DevnullMessageBroker(),
        commands_mapper=lambda m: m.bind(PlaceOrder, PlaceOrderHandler),
        queries_mapper=queries_mapper,
        domain_events_mapper=lambda m: m.bind(OrderPlaced, OrderPlacedHandler),
    )

    await mediator.send(PlaceOrder(order_id="o1", customer="ada", item="book", quantity=2))
    view = await mediator.send(GetOrder(order_id="o1"))
    print(f"order {view.order_id}: {view.customer}, {view.line}")

    prices = [(await mediator.send(GetPrice(item="book"))).source for _ in range(3)]
    print(f"prices: {prices} live calls: {len(LIVE_CALLS)}")

    done: list[str] = []
    try:
        async with CheckoutSaga().transaction(
            context=CheckoutContext(order_id="o1"),
            container=container,
            storage=MemorySagaStorage(),
            saga_id=uuid.uuid4(),
            compensation_retry_delay=0.01,
        ) as transaction:
            async for result in transaction:
                done.append(result.step_type.__name__)
    except RuntimeError as error:
        print(f"saga steps: {done}")
        print(f"saga failed: {error}; compensated: {COMPENSATED}")


if __name__ == "__main__":
    asyncio.run(main())
