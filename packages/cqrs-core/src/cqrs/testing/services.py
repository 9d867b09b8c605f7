"""Former path of `cqrs.testing._support.services`: test support for this project's CI only."""

from cqrs.testing._support.services import (
    SERVICES,
    Service,
    require_service,
    service_reachable,
)

__all__ = ["SERVICES", "Service", "require_service", "service_reachable"]
