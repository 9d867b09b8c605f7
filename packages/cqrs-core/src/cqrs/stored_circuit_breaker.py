"""The stored circuit breaker at its former path; it lives in `cqrs.breakers.stored`."""

from cqrs.breakers.stored import StoredCircuitBreaker

__all__ = ["StoredCircuitBreaker"]
