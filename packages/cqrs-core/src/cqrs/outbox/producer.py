"""`EventProducer`: the seeds' simple polling loop over an outbox, one message at a time.

For production use `OutboxRelay` (batching, concurrency, backoff, dead letters, shutdown);
`EventProducer` keeps the documented loop working::

    async for messages in producer.event_batch_generator():
        for message in messages:
            await producer.send_message(message)
        await producer.repository.commit()
"""

from __future__ import annotations

import datetime
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.protocol import MessageBroker
from cqrs.faults import Fault, classify
from cqrs.interception._chain import Interception, SendOne
from cqrs.interception.interceptor import Interceptor
from cqrs.outbox.protocol import OutboxedEvent, OutboxedEventRepository
from cqrs.redaction import redact_text

__all__ = ["EventProducer"]

_log = logging.getLogger("cqrs.outbox.producer")


class EventProducer:
    """Claims outbox batches and publishes them one by one, settling each row as it goes."""

    def __init__(
        self,
        message_broker: MessageBroker,
        repository: OutboxedEventRepository[Any],
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 10,
        backoff: ExponentialBackoff | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.message_broker = message_broker
        self.repository = repository
        self.worker_id = f"producer:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff = backoff or ExponentialBackoff()
        self._interception = Interception(interceptors, watcher=self)
        self._send: SendOne | None = None
        self._reintercept()

    def _reintercept(self) -> None:
        publishers = self._interception.publishers(self.message_broker, "producer")
        self._send = publishers[0] if publishers is not None else None

    async def event_batch_generator(
        self, batch_size: int = 100
    ) -> AsyncIterator[list[OutboxedEvent]]:
        """Yield claimed batches forever (an empty list when there is nothing to publish)."""
        while True:
            yield await self.repository.claim(
                worker_id=self.worker_id, batch_size=batch_size, lease_seconds=self.lease_seconds
            )

    async def send_message(self, event: OutboxedEvent) -> bool:
        """Publish one claimed row and settle it; returns whether the broker accepted it.

        A destination fault (the broker is unavailable) hands the row back for a later try
        without charging it an attempt; any other failure counts one.
        """
        try:
            if self._send is None:
                await self.message_broker.send_message(event.to_message())
            else:
                await self._send(event.to_message())
        except Exception as exc:
            if classify(exc) is Fault.DESTINATION:
                delay = datetime.timedelta(seconds=self.backoff.delay(1))
                _log.warning("broker unavailable for outbox row %d: %r", event.id, exc)
                await self.repository.release(
                    [event],
                    worker_id=self.worker_id,
                    retry_at=datetime.datetime.now(datetime.UTC) + delay,
                )
                return False
            attempts = event.attempts + 1
            retry_at = None
            if attempts < self.max_attempts:
                delay = datetime.timedelta(seconds=self.backoff.delay(attempts))
                retry_at = datetime.datetime.now(datetime.UTC) + delay
            _log.warning("publishing outbox row %d failed: %r", event.id, exc)
            await self.repository.mark_failed(
                event,
                worker_id=self.worker_id,
                error=redact_text(f"{type(exc).__name__}: {exc}")[:2000],
                retry_at=retry_at,
            )
            return False
        await self.repository.mark_published([event], worker_id=self.worker_id)
        return True
