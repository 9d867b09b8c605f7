"""Which aiokafka errors are the destination's fault and which are the message's.

Shared by the broker (which raises `cqrs` errors) and the plugin's `cqrs_classify_error` hook
(which classifies raw aiokafka errors raised anywhere, e.g. in an application's handler).
"""

from __future__ import annotations

from cqrs.faults import Fault

__all__: list[str] = []

_MESSAGE_FAULTS = frozenset(
    {
        "MessageSizeTooLargeError",
        "RecordTooLargeError",
        "InvalidTopicError",
        "CorruptRecordException",
        "RecordListTooLargeError",
        "InvalidRecordError",
    }
)
"""aiokafka errors about the record itself: sending it again cannot succeed."""

_TOPIC_FAULTS = frozenset(
    {
        "UnknownTopicOrPartitionError",
        "TopicAuthorizationFailedError",
        "LeaderNotAvailableError",
        "NotLeaderForPartitionError",
        "NotEnoughReplicasError",
        "NotEnoughReplicasAfterAppendError",
    }
)
"""Destination faults that concern one topic (its partitions), not the whole cluster."""


def classify_kafka(error: BaseException) -> Fault | None:
    """The fault `error` is if aiokafka raised it, else `None`."""
    if not type(error).__module__.startswith(("aiokafka", "kafka")):
        return None
    name = type(error).__name__
    if name in _MESSAGE_FAULTS:
        return Fault.MESSAGE
    if name in _TOPIC_FAULTS or getattr(error, "retriable", False):
        return Fault.DESTINATION
    if name in {
        "KafkaTimeoutError",
        "KafkaConnectionError",
        "ProducerClosed",
        "NoBrokersAvailable",
    }:
        return Fault.DESTINATION
    if name in {"SaslAuthenticationFailedError", "ClusterAuthorizationFailedError"}:
        return Fault.DESTINATION
    return None


def topic_scoped(error: BaseException) -> bool:
    """Whether a destination fault `error` concerns only the topic it was raised for."""
    return type(error).__name__ in _TOPIC_FAULTS
