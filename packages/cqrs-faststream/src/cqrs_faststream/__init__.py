"""FastStream integration for cqrs: decode cqrs messages and dispatch them to an EventMediator."""

__all__: list[str] = []
