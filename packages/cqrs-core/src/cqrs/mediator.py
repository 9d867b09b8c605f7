"""python-cqrs 4.x's `cqrs.mediator` path: the mediators.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.mediators.event import EventMediator as EventMediator
    from cqrs.mediators.request import RequestMediator as RequestMediator
    from cqrs.mediators.streaming import StreamingRequestMediator as StreamingRequestMediator
    from cqrs.saga.mediator import SagaMediator as SagaMediator
