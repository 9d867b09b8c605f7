"""The outbox contract suite at its former path; its home is `cqrs.outbox.contract`."""

from cqrs.outbox.contract import OutboxPayload, OutboxRepositoryContract

__all__ = ["OutboxPayload", "OutboxRepositoryContract"]
