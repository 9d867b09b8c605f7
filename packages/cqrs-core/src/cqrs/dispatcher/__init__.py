"""python-cqrs 4.x's `cqrs.dispatcher` path: the dispatchers, which are internal here.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)
