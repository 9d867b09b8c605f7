"""The saga of the tracing recovery test: three steps whose events go to the storage's outbox;
`Pack` SIGKILLs its own process the first time it runs.

`python saga_app.py STORAGE_URL SAGA_ID TOPIC TRACEPARENT` runs one saga inside the trace
`TRACEPARENT` names (and dies in Pack); `cqrs saga recover --app saga_app:sagas` finishes it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

from opentelemetry import context, propagate
from opentelemetry.sdk.trace import TracerProvider

import cqrs
from cqrs.saga import Saga, SagaContext, SagaMap, SagaStepHandler, SagaStepResult
from cqrs.saga.bootstrap import bootstrap
from cqrs_opentelemetry import CqrsInstrumentor


class Delivery(SagaContext):
    order_id: str
    topic: str
    kill_pid: int = 0


class Step(cqrs.Response):
    order_id: str
    step: str


def _event(context: Delivery, step: str) -> cqrs.NotificationEvent[Step]:
    return cqrs.NotificationEvent[Step](
        event_name=f"{step}Done",
        topic=context.topic,
        payload=Step(order_id=context.order_id, step=step),
        partition_key=context.order_id,
    )


class Reserve(SagaStepHandler[Delivery, None]):
    async def act(self, context: Delivery) -> SagaStepResult[Delivery, None]:
        self._events = [_event(context, "Reserve")]
        return self._generate_step_result(None)


class Pack(SagaStepHandler[Delivery, None]):
    async def act(self, context: Delivery) -> SagaStepResult[Delivery, None]:
        if context.kill_pid == os.getpid():
            os.kill(os.getpid(), signal.SIGKILL)
        return self._generate_step_result(None)


class Ship(SagaStepHandler[Delivery, None]):
    async def act(self, context: Delivery) -> SagaStepResult[Delivery, None]:
        self._events = [_event(context, "Ship")]
        return self._generate_step_result(None)


class DeliverySaga(Saga[Delivery]):
    steps = (Reserve, Pack, Ship)


def sagas(saga_map: SagaMap) -> None:
    """The `--app` of the recovery command."""
    saga_map.bind(Delivery, DeliverySaga)


async def _run(storage_url: str, saga_id: str, topic: str, traceparent: str) -> None:
    from cqrs.plugins.resolve import make_saga_storage

    CqrsInstrumentor().instrument(tracer_provider=TracerProvider())
    mediator = bootstrap(sagas_mapper=sagas, saga_storage=make_saga_storage(storage_url))
    mediator.lease_seconds = 0.5
    delivery = Delivery(order_id="order-9", topic=topic, kill_pid=os.getpid())
    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        await mediator.execute(delivery, uuid.UUID(saga_id))
    finally:
        context.detach(token)


if __name__ == "__main__":
    asyncio.run(_run(*sys.argv[1:5]))
