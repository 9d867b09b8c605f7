"""Mermaid diagrams of a saga with a fallback step and of a chain of responsibility.

Run it with `uv run python examples/mermaid.py` and paste the output into a Markdown page that
renders Mermaid (or the Mermaid live editor). `SagaMermaid` draws the order saga: its acts in
order, the compensations that follow a failure, and the fallback that takes over the inventory
step; `CoRMermaid` draws the seeds' payment chain (credit card, PayPal, default handler) as the
mediator builds it from `RequestMap.bind(Request, [First, Second, ...])`.
"""

# expect: ## Saga: OrderSaga
# expect: ## Chain: ProcessPaymentCommand
# expect: else ReserveInventoryStep fails or its circuit is open
# expect: ReserveInventoryStep ..> ReserveFromLocalStockStep : fallback with circuit breaker
# expect: H2->>H3: next(ProcessPaymentCommand)
# expect: chain check: paypal -> success=True 'pp-A-1'

from __future__ import annotations

import asyncio
import dataclasses

import cqrs
from cqrs.requests.mermaid import CoRMermaid
from cqrs.saga.fallback import Fallback
from cqrs.saga.mermaid import SagaMermaid
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult

# --- The saga ------------------------------------------------------------------------------


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    total_amount: float
    reservation_id: str | None = None
    payment_id: str | None = None


class ReserveInventoryResponse(cqrs.Response):
    reservation_id: str


class PaymentResponse(cqrs.Response):
    payment_id: str


class ReserveInventoryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        raise ConnectionError("warehouse API unavailable")


class ReserveFromLocalStockStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        context.reservation_id = f"local-{context.order_id}"
        return self._generate_step_result(ReserveInventoryResponse(reservation_id="local"))


class ProcessPaymentStep(SagaStepHandler[OrderContext, PaymentResponse]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, PaymentResponse]:
        context.payment_id = f"pay-{context.order_id}"
        return self._generate_step_result(PaymentResponse(payment_id=context.payment_id))

    async def compensate(self, context: OrderContext) -> None:
        context.payment_id = None


class ShipOrderStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        return self._generate_step_result(None)


class OrderSaga(Saga[OrderContext]):
    steps = (
        Fallback(
            step=ReserveInventoryStep,
            fallback=ReserveFromLocalStockStep,
            circuit_breaker=cqrs.MemoryCircuitBreaker(failure_threshold=2, reset_timeout=60),
        ),
        ProcessPaymentStep,
        ShipOrderStep,
    )


# --- The chain of responsibility -----------------------------------------------------------


class ProcessPaymentCommand(cqrs.Request):
    order_id: str
    method: str
    amount: float


class PaymentResult(cqrs.Response):
    success: bool
    transaction_id: str


class CreditCardHandler(cqrs.CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.method != "credit_card":
            return await self.next(request)
        return PaymentResult(success=True, transaction_id=f"cc-{request.order_id}")


class PayPalHandler(cqrs.CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.method != "paypal":
            return await self.next(request)
        return PaymentResult(success=True, transaction_id=f"pp-{request.order_id}")


class DefaultHandler(cqrs.CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        return PaymentResult(success=False, transaction_id="")


PAYMENT_CHAIN = [CreditCardHandler, PayPalHandler, DefaultHandler]


def print_diagram(title: str, diagram: str) -> None:
    print(f"### {title}\n\n```mermaid\n{diagram.rstrip()}\n```\n")


async def main() -> None:
    saga = SagaMermaid(OrderSaga())
    print("## Saga: OrderSaga\n")
    print_diagram("Sequence", saga.sequence())
    print_diagram("Classes", saga.class_diagram())

    chain = CoRMermaid(PAYMENT_CHAIN)
    print("## Chain: ProcessPaymentCommand\n")
    print_diagram("Sequence", chain.sequence())
    print_diagram("Classes", chain.class_diagram())

    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(ProcessPaymentCommand, PAYMENT_CHAIN)
    )
    for method in ("credit_card", "paypal", "cash"):
        command = ProcessPaymentCommand(order_id="A-1", method=method, amount=40.0)
        result = await mediator.send(command)
        print(f"chain check: {method} -> success={result.success} {result.transaction_id!r}")


if __name__ == "__main__":
    asyncio.run(main())
