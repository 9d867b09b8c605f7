"""The start checks the commands share, called directly: what `cqrs saga recover` will use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cqrs._cli_support import (
    CommandError,
    ExitCode,
    build,
    check_broker,
    check_inbox,
    check_outbox,
    check_saga_storage,
)
from cqrs.plugins import (
    make_inbox,
    make_message_broker,
    make_outbox_repository,
    make_saga_storage,
)


async def test_in_process_services_pass() -> None:
    await check_saga_storage(make_saga_storage("memory://"), "memory://", timeout=5)
    await check_broker(make_message_broker("devnull://"), "devnull://", timeout=5)
    stats = await check_outbox(make_outbox_repository("memory://"), "memory://", timeout=5)
    assert (stats.pending, stats.delayed) == (0, 0)
    await check_inbox(make_inbox("memory://"), "memory://", timeout=5, consumer="billing")


async def test_a_saga_storage_without_its_tables(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    storage = build(make_saga_storage, url, option="--storage")
    try:
        with pytest.raises(CommandError) as info:
            await check_saga_storage(storage, url, timeout=10)
    finally:
        await storage.close()
    assert info.value.code == ExitCode.NOT_SET_UP
    assert str(info.value).startswith(
        f"--storage {url}: the saga storage table does not exist (OperationalError: no such table"
    )
    assert str(info.value).endswith("create it with storage.create_schema() or your migrations")


async def test_a_saga_storage_ready_passes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    storage = build(make_saga_storage, url, option="--storage")
    try:
        await storage.create_schema()
        await check_saga_storage(storage, url, timeout=10)
    finally:
        await storage.close()


def test_build_reports_an_unknown_scheme_as_configuration() -> None:
    with pytest.raises(CommandError) as info:
        build(make_saga_storage, "redis+cluster://h:6379", option="--storage")
    assert info.value.code == ExitCode.CONFIG
    assert "did you mean redis://h:6379?" in str(info.value)


async def test_an_inbox_without_its_table(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}?table=billing_inbox"
    inbox: Any = build(make_inbox, url, option="--inbox")  # a SqlAlchemyInbox
    try:
        with pytest.raises(CommandError) as info:
            await check_inbox(inbox, url, timeout=10, consumer="billing")
        await inbox.create_schema()
        await check_inbox(inbox, url, timeout=10, consumer="billing")
    finally:
        await inbox.close()
    assert info.value.code == ExitCode.NOT_SET_UP
    assert str(info.value).startswith(
        f"--inbox {url}: the inbox table does not exist (OperationalError: no such table"
    )
    assert str(info.value).endswith("create it with inbox.create_schema() or your migrations")
