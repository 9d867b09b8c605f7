"""The breaker state contract suite at its former path; it lives in `cqrs.breakers.contract`."""

from cqrs.breakers.contract import BreakerStateContract

__all__ = ["BreakerStateContract"]
