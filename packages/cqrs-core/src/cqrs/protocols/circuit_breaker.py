"""The circuit breaker protocol at its former path; it lives in `cqrs.breakers.protocol`."""

from cqrs.breakers.protocol import CircuitBreaker, circuit_name

__all__ = ["CircuitBreaker", "circuit_name"]
