"""python-cqrs 4.x's `cqrs.saga.circuit_breaker` path: the saga step circuit breaker protocol.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)
