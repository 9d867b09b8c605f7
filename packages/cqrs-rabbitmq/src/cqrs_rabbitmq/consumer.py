"""A consumer runner feeding a RabbitMQ queue to a `MessageDispatcher`, acking after handling.

Bad messages go to a dead-letter queue with the reason; the consumer keeps running and recovers
from lost connections by itself::

    import asyncio

    import cqrs
    from cqrs.consumer import MessageDispatcher
    from cqrs.events.bootstrap import bootstrap
    from cqrs_rabbitmq import RabbitMQEventConsumer


    class Paid(cqrs.Response):
        order_id: str


    class OnPaid(cqrs.EventHandler[cqrs.NotificationEvent[Paid]]):
        async def handle(self, event: cqrs.NotificationEvent[Paid]) -> None:
            print("paid", event.payload.order_id)


    async def main() -> None:
        mediator = bootstrap(events_mapper=lambda m: m.bind(cqrs.NotificationEvent[Paid], OnPaid))
        dispatcher = MessageDispatcher(mediator, {"OrderPaid": cqrs.NotificationEvent[Paid]})
        consumer = RabbitMQEventConsumer(
            "amqp://guest:guest@localhost/", "billing", ["orders.*"], dispatcher
        )
        await consumer.run()  # until consumer.stop()


    asyncio.run(main())
"""

from __future__ import annotations

from collections.abc import Iterable

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.consumers.runner import ConsumerRunner
from cqrs.consumers.runner_consumer import RunnerConsumer
from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE
from cqrs_rabbitmq.transport import DEFAULT_DEAD_LETTER_EXCHANGE, RabbitMQConsumerTransport

__all__ = ["DEFAULT_DEAD_LETTER_EXCHANGE", "RabbitMQEventConsumer"]


class RabbitMQEventConsumer(RunnerConsumer):
    """Consumes a durable queue bound to an exchange and hands every message to a dispatcher.

    A `ConsumerRunner` over a `RabbitMQConsumerTransport`, which declares the exchange, the
    durable `queue` bound with each of `routing_keys`, the direct `dead_letter_exchange` and
    the durable `<queue>.dead-letter` queue, then consumes with manual acks until `stop()`.
    A message is acked only once the dispatcher is done with it: handled or a duplicate, or
    dead-lettered, i.e. republished to the dead-letter exchange (with the `dead-letter-reason`,
    `original-exchange` and `original-routing-key` headers) and confirmed by RabbitMQ. A dead
    letter that cannot be published is retried in place, holding the message, so that nothing
    is lost and nothing overtakes it.

    Messages with the same partition key (`event-key` header, else the routing key) are handled
    one at a time, in queue order. With `concurrency` > 1, messages of different keys are
    handled concurrently by that many workers, each key always on the same worker; `prefetch`
    bounds how many unacked messages RabbitMQ hands out at once.

    Given a URL, the consumer opens a robust connection of its own (closed at the end); given a
    connection, it only opens and closes channels on it (recovery then needs a robust one).
    After a lost connection (logged once when lost, once when restored) the queues and the
    consumer are restored; the unacked messages of the old channel are dropped locally and
    RabbitMQ delivers them again, so delivery is at least once: use the dispatcher's inbox to
    handle each event once. A message whose handler meets a destination fault is held, unacked,
    until the fault clears (see `MessageDispatcher`). A consumer runs once; `run()` fails at
    once with `DestinationUnavailableError` when RabbitMQ cannot be reached within
    `connect_timeout` seconds or refuses the credentials.
    """

    def __init__(
        self,
        url_or_connection: str | AbstractConnection,
        queue: str,
        routing_keys: Iterable[str],
        dispatcher: MessageDispatcher,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        exchange_type: aio_pika.ExchangeType | str = aio_pika.ExchangeType.TOPIC,
        dead_letter_exchange: str = DEFAULT_DEAD_LETTER_EXCHANGE,
        prefetch: int = 16,
        concurrency: int = 1,
        shutdown_timeout: float = 30.0,
        publish_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        connection_name: str | None = None,
    ) -> None:
        if prefetch < 1 or concurrency < 1:
            raise ValueError("prefetch and concurrency must be at least 1")
        self.transport = RabbitMQConsumerTransport(
            url_or_connection,
            queue,
            routing_keys,
            exchange=exchange,
            exchange_type=exchange_type,
            dead_letter_exchange=dead_letter_exchange,
            prefetch=prefetch,
            publish_timeout=publish_timeout,
            connect_timeout=connect_timeout,
            connection_name=connection_name,
        )
        self.dispatcher = dispatcher
        self.concurrency = concurrency
        self.runner: ConsumerRunner[AbstractIncomingMessage] = ConsumerRunner(
            self.transport,
            dispatcher,
            concurrency=concurrency,
            max_in_flight=max(prefetch, concurrency),
            shutdown_timeout=shutdown_timeout,
            name=repr(self),
        )

    def __repr__(self) -> str:
        return repr(self.transport).replace(type(self.transport).__name__, type(self).__name__)

    url_or_connection = property(lambda self: self.transport.url_or_connection)
    queue = property(lambda self: self.transport.queue)
    routing_keys = property(lambda self: self.transport.routing_keys)
    exchange = property(lambda self: self.transport.exchange)
    exchange_type = property(lambda self: self.transport.exchange_type)
    dead_letter_exchange = property(lambda self: self.transport.dead_letter_exchange)
    prefetch = property(lambda self: self.transport.prefetch)
    publish_timeout = property(lambda self: self.transport.publish_timeout)
    connect_timeout = property(lambda self: self.transport.connect_timeout)
    connection_name = property(lambda self: self.transport.connection_name)

    @property
    def dead_letter_queue(self) -> str:
        """The name of the queue dead letters of this consumer go to."""
        return self.transport.dead_letter_queue
