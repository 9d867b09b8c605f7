"""The in-memory breaker state store at its former path; it lives in `cqrs.breakers.memory`."""

from cqrs.breakers.memory import MemoryBreakerStateStore

__all__ = ["MemoryBreakerStateStore"]
