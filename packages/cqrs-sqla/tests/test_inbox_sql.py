"""The sqla plugin's inbox for each database URL: what `make_inbox(url)` and `cqrs consume
--inbox URL` build, on SQLite, PostgreSQL and MariaDB (through both MariaDB/MySQL schemes)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cqrs.exceptions import UnknownSchemeError
from cqrs.plugins import INBOX, PluginManager, make_inbox, new_plugin_manager
from cqrs.urls import split_url
from cqrs_sqla import SqlAlchemyInbox, _plugin

from .conftest import database_url

DATABASES = {
    "sqlite+aiosqlite": "sqlite",
    "postgresql+asyncpg": "postgres",
    "mysql+asyncmy": "mariadb",
    "mariadb+asyncmy": "mariadb",
}
"""Each scheme the plugin declares, and the test database its URL reaches."""


@pytest.fixture
def sqla() -> PluginManager:
    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="sqla")
    return manager


def test_the_plugin_declares_an_inbox_for_each_database_scheme() -> None:
    declared = {d.scheme: d for d in _plugin.cqrs_declare_schemes() if d.role == INBOX}
    assert sorted(declared) == sorted(DATABASES)
    assert {d.factory for d in declared.values()} == {"cqrs_sqla.inbox:SqlAlchemyInbox.from_url"}


@pytest.mark.parametrize("scheme", list(DATABASES))
async def test_a_built_inbox_records_an_id_once_and_reports_the_duplicate(
    scheme: str, sqla: PluginManager, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, rest = split_url(database_url(DATABASES[scheme], tmp_path_factory))
    table = f"inbox_{uuid.uuid4().hex[:10]}"
    inbox = make_inbox(f"{scheme}://{rest}?table={table}", sqla)
    assert isinstance(inbox, SqlAlchemyInbox)
    assert inbox.table.name == table
    assert "table" not in inbox.engine.url.query
    await inbox.create_schema()
    try:
        message_id = uuid.uuid4()
        for expected in (True, False):
            async with inbox as session:
                assert await inbox.record(session, message_id, consumer="billing") is expected
                await inbox.commit(session)
        assert await inbox.seen(message_id, consumer="billing")
        assert not await inbox.seen(message_id, consumer="shipping")
    finally:
        await inbox.drop_schema()
        await inbox.close()


async def test_close_disposes_of_the_engine_from_url_only(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = database_url("sqlite", tmp_path_factory)
    owned = SqlAlchemyInbox.from_url(url)
    disposed: list[object] = []
    sa.event.listen(owned.engine.sync_engine.pool, "close", lambda *_: disposed.append(1))
    await owned.create_schema()
    await owned.close()
    assert disposed, "the engine from_url built was not disposed of"

    engine = create_async_engine(url)
    given = SqlAlchemyInbox(engine)
    try:
        await given.close()
        assert await given.seen(uuid.uuid4()) is False, "a given engine stays usable"
    finally:
        await engine.dispose()


def test_an_unknown_inbox_scheme_names_what_was_meant(sqla: PluginManager) -> None:
    with pytest.raises(UnknownSchemeError) as info:
        make_inbox("postgresql://app:secret@db/app", sqla)
    text = str(info.value)
    assert text.startswith("no installed plugin provides an inbox for postgresql://"), text
    assert "did you mean postgresql+asyncpg://app:***@db/app?" in text
    assert "secret" not in text
