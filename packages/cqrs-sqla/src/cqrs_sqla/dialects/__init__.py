"""Each database's statements for the outbox and the saga storage, as SQLAlchemy Core.

`_outbox` and `_saga` hold the shape every database shares; `postgresql`, `mysql` (also
MariaDB) and `sqlite` each define `Outbox` and `Saga` with only what differs there. Statements
are built once per table on first use and reused, so SQLAlchemy's compiled cache serves them.
"""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.dialects._outbox import OutboxStatements
from cqrs_sqla.dialects._saga import SagaStatements

__all__ = ["OutboxStatements", "SagaStatements", "outbox_statements", "saga_statements"]

_MODULES = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


def _module_for(engine: AsyncEngine) -> Any:
    """The dialect module of `engine`'s database, `None` for a database without one."""
    module = _MODULES.get(engine.dialect.name)
    return None if module is None else importlib.import_module(f"cqrs_sqla.dialects.{module}")


def outbox_statements(engine: AsyncEngine, table: sa.Table) -> OutboxStatements:
    """The outbox statements of `table` for `engine`'s database (other databases get the shared
    statements in plain transactions)."""
    module = _module_for(engine)
    outbox: type[OutboxStatements] = OutboxStatements if module is None else module.Outbox
    return outbox(engine, table)


def saga_statements(engine: AsyncEngine, table: sa.Table, log: sa.Table) -> SagaStatements:
    """The saga statements of `table` and its step `log` for `engine`'s database."""
    module = _module_for(engine)
    saga: type[SagaStatements] = SagaStatements if module is None else module.Saga
    return saga(engine, table, log)
