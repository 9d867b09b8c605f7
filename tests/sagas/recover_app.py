"""The app the `cqrs saga recover` tests run: a 3-step shipment saga whose Pack step SIGKILLs
its own process the first time it runs.

`python recover_app.py STORAGE_URL SAGA_ID TOPIC JOURNAL [BROKER_URL]` runs one saga (and dies
in Pack);
`cqrs saga recover --app recover_app:sagas --events recover_app:events` finishes it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

import cqrs
from cqrs.events.map import EventMap
from cqrs.saga import Saga, SagaContext, SagaMap, SagaStepHandler, SagaStepResult
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.storage.protocol import SagaStorage


class Shipment(SagaContext):
    order_id: str
    topic: str
    journal: str
    kill_pid: int = 0


class Reserved(cqrs.Response):
    order_id: str


class Shipped(cqrs.Response):
    order_id: str


class Packed(cqrs.DomainEvent):
    order_id: str
    journal: str


class Reserve(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> SagaStepResult[Shipment, None]:
        self._events = [
            cqrs.NotificationEvent[Reserved](
                event_name="Reserved",
                topic=context.topic,
                payload=Reserved(order_id=context.order_id),
                partition_key=context.order_id,
            )
        ]
        return self._generate_step_result(None)


class Pack(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> SagaStepResult[Shipment, None]:
        if context.kill_pid == os.getpid():
            os.kill(os.getpid(), signal.SIGKILL)
        self._events = [Packed(order_id=context.order_id, journal=context.journal)]
        return self._generate_step_result(None)


class Ship(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> SagaStepResult[Shipment, None]:
        self._events = [
            cqrs.NotificationEvent[Shipped](
                event_name="Shipped",
                topic=context.topic,
                payload=Shipped(order_id=context.order_id),
                partition_key=context.order_id,
            )
        ]
        return self._generate_step_result(None)


class ShipmentSaga(Saga[Shipment]):
    steps = (Reserve, Pack, Ship)


class OnPacked(cqrs.EventHandler[Packed]):
    """Journals each handled `Packed` with the handling process's pid."""

    async def handle(self, event: Packed) -> None:
        with open(event.journal, "a") as journal:
            journal.write(f"packed {event.order_id} {os.getpid()}\n")


def sagas(saga_map: SagaMap) -> None:
    """The `--app` of the recovery command."""
    saga_map.bind(Shipment, ShipmentSaga)


def events(event_map: EventMap) -> None:
    """The `--events` of the recovery command."""
    event_map.bind(Packed, OnPacked)


async def _run(
    storage_url: str, saga_id: str, topic: str, journal: str, broker: str | None = None
) -> None:
    from cqrs.plugins.resolve import make_saga_storage

    storage: SagaStorage = make_saga_storage(storage_url)
    mediator = bootstrap(
        sagas_mapper=sagas,
        domain_events_mapper=events,
        saga_storage=storage,
        message_broker=broker,
    )
    mediator.lease_seconds = 0.5
    context = Shipment(order_id="order-1", topic=topic, journal=journal, kill_pid=os.getpid())
    await mediator.execute(context, uuid.UUID(saga_id))


if __name__ == "__main__":
    asyncio.run(_run(*sys.argv[1:6]))
