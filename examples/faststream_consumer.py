"""The seeds' FastStream consumer: Kafka events decoded by `EventDecoder` and sent to the mediator.

Run it with `CQRS_EXAMPLE_KAFKA=host:port uv run python examples/faststream_consumer.py` (any
Kafka, e.g. `cqrs_kafka.testing.TansuBroker`). `KafkaMessageBroker` publishes three
`HelloWorld` notification events and one record that is not JSON to `hello_world`. A FastStream
subscriber with manual acknowledgement decodes each record into a typed
`cqrs.NotificationEvent[HelloWorldPayload]` (`None` for the broken one), hands events to an
`EventMediator` from `faststream.Depends(mediator_factory)`, and acks only afterwards. In an
application the broker would run under `faststream.FastStream(broker)` (`faststream run`); here
it is started and stopped around the four records.
"""

# needs: kafka
# expect: handled HelloWorld: Hello World (key greeting-1)
# expect: handled HelloWorld: Hello FastStream (key greeting-2)
# expect: handled HelloWorld: Bonjour le monde (key greeting-3)
# expect: skipped an undecodable record (acked so the group moves on)
# expect: 3 events handled, 1 skipped, 4 acked (offsets committed)

from __future__ import annotations

import asyncio
import logging
import os
import uuid

import faststream
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

import cqrs
from cqrs.events import bootstrap
from cqrs_faststream import EventDecoder
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

KAFKA = os.environ.get("CQRS_EXAMPLE_KAFKA", "localhost:9092")
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


broker = KafkaBroker(KAFKA, logger=None, graceful_timeout=5.0)
decoder = EventDecoder({"HelloWorld": HelloWorld})


@broker.subscriber(
    TOPIC,
    group_id=GROUP,
    auto_offset_reset="earliest",
    ack_policy=AckPolicy.MANUAL,
    decoder=decoder,
    session_timeout_ms=2000,
    heartbeat_interval_ms=500,
)
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


async def publish() -> None:
    """Three events through our own Kafka broker."""
    ours = KafkaMessageBroker(kafka_producer_factory(dsn=KAFKA, topics=[TOPIC]))
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


async def main() -> None:
    logging.getLogger("cqrs_faststream").setLevel(logging.ERROR)
    await publish()
    async with broker:
        await broker.start()
        await broker.publish(b"{not json", TOPIC, key=b"greeting-1")
        async with asyncio.timeout(20):
            while len(acked) < 4:
                await asyncio.sleep(0.05)
    print(f"{len(handled)} events handled, {len(skipped)} skipped, {len(acked)} acked", end=" ")
    print("(offsets committed)")


if __name__ == "__main__":
    asyncio.run(main())
