"""Orchestrated sagas: steps with act/compensate, persisted state and log, recovery."""

from cqrs.saga.execution import CompensationPolicy, SagaCompensationError
from cqrs.saga.fallback import Fallback
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.models import (
    SagaContext,
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepStatus,
)
from cqrs.saga.recovery import (
    SagaRecoveryConfigError,
    SagaRecoveryOutcome,
    SagaRecoveryResult,
    SagaRecoveryWorker,
    recover_saga,
)
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage import (
    MemorySagaStorage,
    SagaConcurrencyError,
    SagaLeaseLostError,
    SagaStorage,
)

__all__ = [
    "CompensationPolicy",
    "Fallback",
    "MemorySagaStorage",
    "Saga",
    "SagaCompensationError",
    "SagaConcurrencyError",
    "SagaContext",
    "SagaLeaseLostError",
    "SagaLogEntry",
    "SagaMap",
    "SagaMediator",
    "SagaRecoveryConfigError",
    "SagaRecoveryOutcome",
    "SagaRecoveryResult",
    "SagaRecoveryWorker",
    "SagaState",
    "SagaStatus",
    "SagaStepHandler",
    "SagaStepResult",
    "SagaStepStatus",
    "SagaStorage",
    "recover_saga",
]
