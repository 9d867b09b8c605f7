"""The plugin tells a database that is unavailable from a statement that is wrong."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cqrs.faults import Fault, classify
from cqrs.testing._support.services import require_service


async def _error_of(url: str, statement: str = "SELECT 1") -> BaseException:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    except Exception as error:
        return error
    finally:
        await engine.dispose()
    raise AssertionError(f"{statement} on {url} did not fail")


@pytest.mark.parametrize("backend", ["postgres", "mariadb"])
async def test_unreachable_and_missing_databases_are_destination_faults(backend: str) -> None:
    url = sa.make_url(require_service(backend).url)
    closed_port = url.set(port=1)
    missing_db = url.set(database=f"missing_{uuid.uuid4().hex[:8]}")
    wrong_user = url.set(username=f"nobody_{uuid.uuid4().hex[:6]}", password="wrong")
    for bad in (closed_port, missing_db, wrong_user):
        error = await _error_of(bad.render_as_string(hide_password=False))
        assert classify(error) is Fault.DESTINATION, f"{bad!r}: {error!r}"


@pytest.mark.parametrize("backend", ["postgres", "mariadb"])
async def test_a_bad_statement_is_not_a_destination_fault(backend: str) -> None:
    error = await _error_of(require_service(backend).url, "SELECT * FROM no_such_table_xyz")
    assert classify(error) is Fault.MESSAGE, repr(error)
