"""The seeds' import paths whose code now lives in an adapter distribution, from one table.

`SEED_PATHS` maps each such module path to the adapter module that provides it, the
distribution to install and the names the path exports. The module at a seed path only reads
its row, so adding a path is a row here plus a file holding::

    from cqrs import _compat

    __all__, __getattr__ = _compat.forward_module(__name__)

(and, for type checkers, an `if TYPE_CHECKING:` re-export of the adapter's names).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

__all__ = ["SEED_PATHS", "SeedPath", "forward", "forward_module", "require"]


class SeedPath(NamedTuple):
    """Where a seed path's names come from: the adapter module and its distribution."""

    adapter: str
    distribution: str
    names: tuple[str, ...]


SEED_PATHS: dict[str, SeedPath] = {
    "cqrs.adapters.circuit_breaker": SeedPath(
        "cqrs_aiobreaker", "cqrs-aiobreaker", ("AioBreakerAdapter",)
    ),
    "cqrs.adapters.kafka": SeedPath("cqrs_kafka", "cqrs-kafka", ("kafka_producer_factory",)),
    "cqrs.container.dependency_injector": SeedPath(
        "cqrs_dependency_injector", "cqrs-dependency-injector", ("DependencyInjectorCQRSContainer",)
    ),
    "cqrs.container.di": SeedPath("cqrs_di", "cqrs-di", ("DIContainer",)),
    "cqrs.message_brokers.kafka": SeedPath("cqrs_kafka", "cqrs-kafka", ("KafkaMessageBroker",)),
    "cqrs.outbox.sqlalchemy": SeedPath(
        "cqrs_sqla", "cqrs-sqla", ("SqlAlchemyOutboxedEventRepository",)
    ),
}
"""Seed module path -> the adapter that provides it; each path has its two-line module."""


def forward_module(seed: str) -> tuple[list[str], Callable[[str], Any]]:
    """The `__all__` and module `__getattr__` of the seed path `seed`, from its row.

    The adapter is imported now, so importing the seed path without the adapter installed raises
    an ImportError naming the distribution; every name then resolves on the adapter.
    """
    row = SEED_PATHS[seed]
    return list(row.names), forward(require(row.adapter, row.distribution), seed)


def require(module: str, distribution: str) -> ModuleType:
    """Import the adapter `module`, or raise an ImportError that names `distribution` to install.

    Only the absence of `module` itself is translated: an adapter that is installed but fails
    on its own imports (say, its library is missing) raises its original error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != module and not module.startswith(f"{missing}."):
            raise
        raise ModuleNotFoundError(
            f"{module} is provided by the {distribution!r} distribution, which is not "
            f"installed. Install it with: pip install {distribution}",
            name=module,
        ) from None


def forward(adapter: ModuleType, shim: str) -> Callable[[str], Any]:
    """A module `__getattr__` for `shim` that resolves every other name on `adapter`."""

    def __getattr__(name: str) -> Any:
        try:
            return getattr(adapter, name)
        except AttributeError:
            raise AttributeError(
                f"module {shim!r} has no attribute {name!r} "
                f"({adapter.__name__} does not provide it)"
            ) from None

    return __getattr__
