"""The breaker state protocol at its former path; it lives in `cqrs.breakers.protocol`."""

from cqrs.breakers.protocol import BreakerPermit, BreakerStateStore, CircuitState

__all__ = ["BreakerPermit", "BreakerStateStore", "CircuitState"]
