"""Where the application test kit gets its broker, outbox, inbox and saga storage."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

__all__ = ["ENVIRONMENT_VARIABLES", "MEMORY", "AdapterUrls"]

MEMORY = "memory://"
"""The in-process adapters' URL: the default for every role."""

ENVIRONMENT_VARIABLES = {
    "broker": "CQRS_KIT_BROKER",
    "outbox": "CQRS_KIT_OUTBOX",
    "inbox": "CQRS_KIT_INBOX",
    "saga_storage": "CQRS_KIT_SAGA_STORAGE",
}
"""The environment variable naming each role's URL (the pytest options `--cqrs-broker`,
`--cqrs-outbox`, `--cqrs-inbox` and `--cqrs-saga-storage` take precedence)."""


@dataclasses.dataclass(frozen=True, slots=True)
class AdapterUrls:
    """One URL per role; `memory://` means the in-process implementation driven by the kit's
    clock, anything else is built by the installed plugin for its scheme (e.g.
    `postgresql+asyncpg://...?table=kit_outbox`, `amqp://guest:guest@127.0.0.1/`)."""

    broker: str = MEMORY
    outbox: str = MEMORY
    inbox: str = MEMORY
    saga_storage: str = MEMORY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdapterUrls:
        """The URLs the `CQRS_KIT_*` variables give, `memory://` for the others."""
        environ = os.environ if environ is None else environ
        return cls(
            **{
                field: environ.get(variable) or MEMORY
                for field, variable in ENVIRONMENT_VARIABLES.items()
            }
        )

    @property
    def in_memory(self) -> bool:
        """Whether every role is served in process (nothing to connect or create)."""
        return all(url == MEMORY for url in dataclasses.astuple(self))
