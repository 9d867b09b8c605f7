"""python-cqrs 4.x's `cqrs.saga.storage.enums` path: the saga and step statuses.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.saga.models import SagaStatus as SagaStatus
    from cqrs.saga.models import SagaStepStatus as SagaStepStatus
