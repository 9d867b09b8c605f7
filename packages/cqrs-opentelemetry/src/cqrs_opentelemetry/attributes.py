"""The span attribute names we set: OpenTelemetry's messaging conventions where they apply,
`cqrs.*` for what they do not cover (requests, handlers, sagas)."""

from __future__ import annotations

__all__ = [
    "CAUSATION_ID",
    "CONSUMER_OUTCOME",
    "CONVERSATION_ID",
    "DEAD_LETTER_REASON",
    "DESTINATION",
    "EVENT_TYPE",
    "HANDLER",
    "KAFKA_KEY",
    "MESSAGE_COUNT",
    "MESSAGE_ID",
    "OPERATION_NAME",
    "OPERATION_TYPE",
    "RABBITMQ_ROUTING_KEY",
    "REQUEST_ID",
    "REQUEST_TYPE",
    "SAGA_ACTION",
    "SAGA_ID",
    "SAGA_NAME",
    "SAGA_RECOVERING",
    "SAGA_STEP",
    "SYSTEM",
]

SYSTEM = "messaging.system"
OPERATION_TYPE = "messaging.operation.type"
"""`create` (outbox add), `send` (publish), `process` (consume)."""
OPERATION_NAME = "messaging.operation.name"
DESTINATION = "messaging.destination.name"
MESSAGE_ID = "messaging.message.id"
CONVERSATION_ID = "messaging.message.conversation_id"
"""The correlation id."""
MESSAGE_COUNT = "messaging.batch.message_count"
KAFKA_KEY = "messaging.kafka.message.key"
RABBITMQ_ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"

CAUSATION_ID = "cqrs.causation_id"
REQUEST_TYPE = "cqrs.request.type"
REQUEST_ID = "cqrs.request.id"
EVENT_TYPE = "cqrs.event.type"
HANDLER = "cqrs.handler"
CONSUMER_OUTCOME = "cqrs.consumer.outcome"
"""`handled`, `duplicate` (the inbox skipped it), `dead_letter` or `deferred`."""
DEAD_LETTER_REASON = "cqrs.dead_letter.reason"
SAGA_NAME = "cqrs.saga.name"
SAGA_ID = "cqrs.saga.id"
SAGA_STEP = "cqrs.saga.step"
SAGA_ACTION = "cqrs.saga.action"
SAGA_RECOVERING = "cqrs.saga.recovering"
