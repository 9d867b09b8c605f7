"""python-cqrs 4.x's `cqrs.types` path: the request and response type variables.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.requests.request_handler import ReqT as ReqT
    from cqrs.requests.request_handler import ResT as ResT
