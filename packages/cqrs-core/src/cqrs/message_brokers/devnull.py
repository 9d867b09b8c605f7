"""The discarding message broker at its earlier path; its home is `cqrs.brokers.devnull`."""

from cqrs.brokers.devnull import DevnullMessageBroker

__all__ = ["DevnullMessageBroker"]
