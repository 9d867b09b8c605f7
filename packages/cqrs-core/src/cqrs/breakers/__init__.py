"""Circuit breakers: the protocols, the stored breaker, and the in-memory breaker and state store.

`CircuitBreaker` is what fallbacks and saga steps accept; `StoredCircuitBreaker` runs the
closed/open/half-open logic over any `BreakerStateStore`, so processes sharing a store share
circuits. The contract every state store passes is `cqrs.breakers.contract.BreakerStateContract`
(it imports pytest).
"""

from cqrs.breakers.memory import MemoryBreakerStateStore, MemoryCircuitBreaker
from cqrs.breakers.protocol import (
    BreakerPermit,
    BreakerStateStore,
    CircuitBreaker,
    CircuitState,
    circuit_name,
)
from cqrs.breakers.stored import StoredCircuitBreaker

__all__ = [
    "BreakerPermit",
    "BreakerStateStore",
    "CircuitBreaker",
    "CircuitState",
    "MemoryBreakerStateStore",
    "MemoryCircuitBreaker",
    "StoredCircuitBreaker",
    "circuit_name",
]
