"""The outbox protocol at its former path; its home is `cqrs.outbox.protocol`."""

from cqrs.outbox.protocol import OutboxedEvent, OutboxedEventRepository, OutboxStats, OutboxStatus

__all__ = ["OutboxStats", "OutboxStatus", "OutboxedEvent", "OutboxedEventRepository"]
