"""Protobuf serialization of cqrs notification events for brokers and the outbox."""

__all__: list[str] = []
