"""The in-memory circuit breaker at its former path; it lives in `cqrs.breakers.memory`."""

from cqrs.breakers.memory import MemoryCircuitBreaker
from cqrs.breakers.protocol import CircuitState

__all__ = ["CircuitState", "MemoryCircuitBreaker"]
