"""The seeds' payment chain: card, PayPal, then a default link that declines.

Run it with `uv run python examples/chain_of_responsibility.py`. `ProcessPaymentCommand` is bound
to a list of `CORRequestHandler` links; each link handles the payment methods it knows and
passes the others on with `await self.next(request)`. The card link emits a domain event,
handled once the chain has returned. The same links can also be chained by hand with `set_next`.
"""

# expect: credit_card -> success=True transaction=card-1 (amount 120.0)
# expect: paypal -> success=True transaction=paypal-1 (amount 35.5)
# expect: bank_transfer -> success=False transaction=None (amount 10.0)
# expect: event: payment of order o-1 processed by credit card
# expect: by hand: paypal -> success=True transaction=paypal-2

from __future__ import annotations

import asyncio
import itertools
from typing import Protocol

import cqrs
from cqrs.requests import bootstrap
from cqrs.requests.cor_request_handler import CORRequestHandler


class ProcessPaymentCommand(cqrs.Request):
    order_id: str
    payment_method: str
    amount: float


class PaymentResult(cqrs.Response):
    success: bool
    transaction_id: str | None = None


class PaymentProcessedEvent(cqrs.DomainEvent):
    order_id: str
    method: str


class PaymentServiceProtocol(Protocol):
    async def process_credit_card(self, request: ProcessPaymentCommand) -> str: ...


class PayPalServiceProtocol(Protocol):
    async def process_payment(self, request: ProcessPaymentCommand) -> str: ...


class FakeGateway:
    """Stands in for both payment services: hands out numbered transaction ids."""

    def __init__(self) -> None:
        self._numbers: dict[str, itertools.count[int]] = {}

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._numbers.setdefault(prefix, itertools.count(1)))}"

    async def process_credit_card(self, request: ProcessPaymentCommand) -> str:
        return self._next_id("card")

    async def process_payment(self, request: ProcessPaymentCommand) -> str:
        return self._next_id("paypal")


class CreditCardPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    def __init__(self, payment_service: PaymentServiceProtocol) -> None:
        self._payment_service = payment_service
        self._events: list[cqrs.Event] = []

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.payment_method == "credit_card":
            transaction_id = await self._payment_service.process_credit_card(request)
            self._events.append(PaymentProcessedEvent(order_id=request.order_id, method="card"))
            return PaymentResult(success=True, transaction_id=transaction_id)
        return await self.next(request)


class PayPalPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    def __init__(self, paypal_service: PayPalServiceProtocol) -> None:
        self._paypal_service = paypal_service

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        if request.payment_method == "paypal":
            transaction_id = await self._paypal_service.process_payment(request)
            return PaymentResult(success=True, transaction_id=transaction_id)
        return await self.next(request)


class DefaultPaymentHandler(CORRequestHandler[ProcessPaymentCommand, PaymentResult]):
    """The fallback link: no other link knew the payment method."""

    async def handle(self, request: ProcessPaymentCommand) -> PaymentResult | None:
        return PaymentResult(success=False)


class PaymentProcessedHandler(cqrs.EventHandler[PaymentProcessedEvent]):
    async def handle(self, event: PaymentProcessedEvent) -> None:
        print(f"event: payment of order {event.order_id} processed by credit card")


def payment_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(
        ProcessPaymentCommand,
        [CreditCardPaymentHandler, PayPalPaymentHandler, DefaultPaymentHandler],
    )


async def main() -> None:
    gateway = FakeGateway()
    container = cqrs.BuiltinContainer()
    container.register_instance(PaymentServiceProtocol, gateway)
    container.register_instance(PayPalServiceProtocol, gateway)
    mediator = bootstrap.bootstrap(
        di_container=container,
        commands_mapper=payment_mapper,
        domain_events_mapper=lambda m: m.bind(PaymentProcessedEvent, PaymentProcessedHandler),
    )
    for method, amount in (("credit_card", 120.0), ("paypal", 35.5), ("bank_transfer", 10.0)):
        command = ProcessPaymentCommand(order_id="o-1", payment_method=method, amount=amount)
        result = await mediator.send(command)
        print(
            f"{method} -> success={result.success} transaction={result.transaction_id} "
            f"(amount {amount})"
        )

    first = CreditCardPaymentHandler(gateway)
    first.set_next(PayPalPaymentHandler(gateway)).set_next(DefaultPaymentHandler())
    by_hand = await first.handle(
        ProcessPaymentCommand(order_id="o-2", payment_method="paypal", amount=5.0)
    )
    assert by_hand is not None
    print(f"by hand: paypal -> success={by_hand.success} transaction={by_hand.transaction_id}")


if __name__ == "__main__":
    asyncio.run(main())
