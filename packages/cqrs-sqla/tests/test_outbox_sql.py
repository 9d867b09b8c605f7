"""SQL-specific outbox behaviour: atomicity with business rows, table names, concurrent relays."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.brokers.message import Message
from cqrs.outbox import OutboxRelay
from cqrs_sqla import SqlAlchemyOutboxedEventRepository, outbox_table, table_name_from_env


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None = None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic="t", payload=Payload(n=n), partition_key=key
    )


async def test_events_commit_and_roll_back_with_the_business_change(
    outbox_on: SqlAlchemyOutboxedEventRepository,
) -> None:
    business = sa.Table(
        f"orders_{outbox_on.table.name}",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
    )
    async with outbox_on.engine.begin() as conn:
        await conn.run_sync(business.metadata.create_all)
    try:
        async with outbox_on as session:
            await session.execute(sa.insert(business).values(id=1))
            outbox_on.add(session, event(1))
            await outbox_on.commit(session)

        async def failing_handler() -> None:
            async with outbox_on as session:
                await session.execute(sa.insert(business).values(id=2))
                outbox_on.add(session, event(2))
                await session.flush()
                raise RuntimeError("handler failed before commit")

        with pytest.raises(RuntimeError):
            await failing_handler()
        async with outbox_on as session:
            outbox_on.add(session, event(3))
            await session.commit()
        async with outbox_on.engine.connect() as conn:
            ids = (await conn.execute(sa.select(business.c.id))).scalars().all()
        rows = await outbox_on.claim(worker_id="w", batch_size=10, lease_seconds=5)
        assert list(ids) == [1]
        assert [json.loads(r.payload)["payload"]["n"] for r in rows] == [1, 3]
    finally:
        async with outbox_on.engine.begin() as conn:
            await conn.run_sync(business.metadata.drop_all)


async def test_a_commit_inserts_all_its_events_in_one_statement(
    outbox_on: SqlAlchemyOutboxedEventRepository,
) -> None:
    inserts: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith(f"INSERT INTO {outbox_on.table.name}"):
            inserts.append(1)

    sa.event.listen(outbox_on.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with outbox_on as session:
            outbox_on.add(session, event(1, key="a"))
            outbox_on.add(session, event(2))
            outbox_on.add(session, event(3, key="b"))
            await outbox_on.commit(session)
    finally:
        sa.event.remove(outbox_on.engine.sync_engine, "before_cursor_execute", count)
    rows = await outbox_on.claim(worker_id="w", batch_size=10, lease_seconds=5)
    assert [json.loads(r.payload)["payload"]["n"] for r in rows] == [1, 2, 3]
    assert [r.partition_key for r in rows] == ["a", None, "b"]
    # SQLite returns inserted rows in no guaranteed order, so SQLAlchemy inserts one row per
    # statement there (no network round trips to save on an embedded database).
    assert len(inserts) == (3 if outbox_on.engine.dialect.name == "sqlite" else 1)


class RecordingBroker:
    def __init__(self) -> None:
        self.accepted: list[Message] = []

    async def send_message(self, message: Message) -> None:
        await asyncio.sleep(0)
        self.accepted.append(message)


async def test_concurrent_relays_on_separate_engines_keep_key_order(
    outbox_on: SqlAlchemyOutboxedEventRepository, backend: str
) -> None:
    """Relays on their own engines (own connections) claim concurrently: no row is published
    twice and every key's events come out in write order."""
    await outbox_on.add_many([event(n, f"k{n % 7}" if n % 5 else None) for n in range(400)])
    broker = RecordingBroker()
    engines = [create_async_engine(outbox_on.engine.url) for _ in range(3)]
    relays = [
        OutboxRelay(
            SqlAlchemyOutboxedEventRepository(engine, table=outbox_on.table),
            broker,
            batch_size=23,
            worker_id=f"w{i}",
        )
        for i, engine in enumerate(engines)
    ]
    try:
        for _ in range(300):
            await asyncio.gather(*(relay.run_once() for relay in relays))
            if len(broker.accepted) >= 400:
                break
    finally:
        for engine in engines:
            await engine.dispose()
    numbers = [json.loads(m.payload)["payload"]["n"] for m in broker.accepted]
    assert sorted(numbers) == list(range(400))
    by_key: dict[str | None, list[int]] = defaultdict(list)
    for message, n in zip(broker.accepted, numbers, strict=True):
        by_key[message.key].append(n)
    for key, seen in by_key.items():
        if key is not None:
            assert seen == sorted(seen), f"key {key} published out of order"
    assert (await outbox_on.stats()).pending == 0


def test_table_name_comes_from_the_environment_and_is_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTBOX_SQLA_TABLE", "events_outbox")
    assert table_name_from_env() == "events_outbox"
    assert outbox_table(target=sa.MetaData()).name == "events_outbox"
    for hostile in ["outbox; DROP TABLE users", "1outbox", "out-box", "", "x" * 64]:
        monkeypatch.setenv("OUTBOX_SQLA_TABLE", hostile)
        with pytest.raises(ValueError, match="invalid table name"):
            table_name_from_env()


def test_plugin_builds_an_outbox_for_database_urls() -> None:
    from cqrs.exceptions import UnknownSchemeError
    from cqrs.plugins import make_outbox_repository, new_plugin_manager
    from cqrs_sqla import _plugin

    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="sqla")
    with pytest.raises(UnknownSchemeError):
        make_outbox_repository("kafka://localhost:9092", manager)
    outbox = make_outbox_repository("sqlite+aiosqlite:///:memory:?table=ob_x", manager)
    assert isinstance(outbox, SqlAlchemyOutboxedEventRepository)
    assert outbox.table.name == "ob_x"
    declared = {(d.role, d.scheme) for d in _plugin.cqrs_declare_schemes()}
    assert ("outbox", "postgresql+asyncpg") in declared
    assert ("saga_storage", "mariadb+asyncmy") in declared


def test_plugin_module_does_not_import_sqlalchemy() -> None:
    code = "import sys, cqrs_sqla._plugin; print('sqlalchemy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


async def test_a_row_another_claim_holds_locked_holds_back_its_key(
    outbox_on: SqlAlchemyOutboxedEventRepository, backend: str
) -> None:
    """A claim skips a row another transaction holds locked (what a concurrent claim does before
    its lease commits) and every later row of that row's key, and takes the other keys."""
    if backend == "sqlite":
        pytest.skip("SQLite has no row locks: claims take turns on the database's write lock")
    await outbox_on.add_many([event(1, "a"), event(2, "a"), event(3, "b")])
    t = outbox_on.table.c
    other = create_async_engine(outbox_on.engine.url)
    try:
        async with other.connect() as conn:
            first = await conn.scalar(sa.select(sa.func.min(t.id)))
            await conn.execute(sa.select(t.id).where(t.id == first).with_for_update())
            rows = await outbox_on.claim(worker_id="w", batch_size=10, lease_seconds=30)
            if backend == "postgres":
                # The walk stops at a key another claim is locking; the next one starts after it.
                assert rows == []
                assert outbox_on.held_back
                rows = await outbox_on.claim(worker_id="w", batch_size=10, lease_seconds=30)
            assert [json.loads(r.payload)["payload"]["n"] for r in rows] == [3]
            await conn.rollback()
    finally:
        await other.dispose()
    rows = await outbox_on.claim(worker_id="w", batch_size=10, lease_seconds=30)
    assert [json.loads(r.payload)["payload"]["n"] for r in rows] == [1, 2]


@pytest.mark.parametrize("backend", ["postgres"])
async def test_concurrent_claims_do_not_split_the_keys_one_of_them_reaches_first(
    outbox_on: SqlAlchemyOutboxedEventRepository,
) -> None:
    """Relays woken by the same commit claim at once: a PostgreSQL claim that meets a key whose
    head another claim is locking leaves that key and every key after it to the other claim
    (hot keys stay with one relay), and its next walk goes on from there."""
    await outbox_on.add_many([event(n, "abc"[n % 3]) for n in range(9)])
    t = outbox_on.table.c
    other = create_async_engine(outbox_on.engine.url)

    async def claim() -> list[tuple[str, int]]:
        return _keys_and_numbers(
            await outbox_on.claim(worker_id="w", batch_size=30, lease_seconds=30)
        )

    try:
        async with other.connect() as conn:
            head_of_b = await conn.scalar(
                sa.select(sa.func.min(t.id)).where(t.partition_key == "b")
            )
            await conn.execute(sa.select(t.id).where(t.id == head_of_b).with_for_update())
            assert await claim() == [("a", 0), ("a", 3), ("a", 6)], "c is left to the other claim"
            assert await claim() == [], "b is still being claimed"
            assert outbox_on.held_back
            assert await claim() == [("c", 2), ("c", 5), ("c", 8)]
            await conn.rollback()
    finally:
        await other.dispose()
    assert await claim() == [("b", 1), ("b", 4), ("b", 7)]


def _keys_and_numbers(rows: Any) -> list[tuple[str, int]]:
    return [(r.partition_key, json.loads(r.payload)["payload"]["n"]) for r in rows]


async def test_a_claim_shares_its_batch_between_the_keys_it_reaches(
    outbox_on: SqlAlchemyOutboxedEventRepository, backend: str
) -> None:
    """PostgreSQL walks the keys: a batch of 30 over 3 hot keys takes each key's first 10
    rows, so a publisher can send 3 sequences side by side."""
    if backend != "postgres":
        pytest.skip("the key walk is PostgreSQL's claim; the others take the oldest rows")
    await outbox_on.add_many([event(n, f"k{n % 3}") for n in range(300)])
    rows = await outbox_on.claim(worker_id="w", batch_size=30, lease_seconds=30)
    per_key: dict[str, list[int]] = defaultdict(list)
    for key, n in _keys_and_numbers(rows):
        per_key[key].append(n)
    assert dict(per_key) == {f"k{k}": list(range(k, 30 * 3, 3))[:10] for k in range(3)}


async def test_successive_claims_sweep_every_key(
    outbox_on: SqlAlchemyOutboxedEventRepository, backend: str
) -> None:
    """Claims go on from the key the last one reached: five claims of 10, each handed back,
    reach all 50 keys (no key waits for a claim that always starts from the same place)."""
    if backend != "postgres":
        pytest.skip("the key walk is PostgreSQL's claim; the others take the oldest rows")
    await outbox_on.add_many([event(n, f"key-{n:02d}") for n in range(50)])
    reached: set[str] = set()
    for _ in range(5):
        rows = await outbox_on.claim(worker_id="w", batch_size=10, lease_seconds=30)
        assert len(rows) == 10
        reached.update(key for key, _ in _keys_and_numbers(rows))
        await outbox_on.release(rows, worker_id="w")
    assert len(reached) == 50


async def test_racing_claims_take_each_key_from_its_head_and_never_share_it(
    outbox_on: SqlAlchemyOutboxedEventRepository, backend: str
) -> None:
    """Eight claims at once on four keys: each key's rows go to one claim, as an unbroken
    run from the key's first row, whatever rows the others held locked meanwhile."""
    if backend == "sqlite":
        pytest.skip("SQLite has no row locks: claims take turns on the database's write lock")
    await outbox_on.add_many([event(n, f"k{n % 4}") for n in range(200)])
    claimers = [
        SqlAlchemyOutboxedEventRepository(outbox_on.engine, table=outbox_on.table) for _ in range(8)
    ]
    batches = await asyncio.gather(
        *(
            c.claim(worker_id=f"w{i}", batch_size=40, lease_seconds=30)
            for i, c in enumerate(claimers)
        )
    )
    owners: dict[str, set[int]] = defaultdict(set)
    per_key: dict[str, list[int]] = defaultdict(list)
    for worker, rows in enumerate(batches):
        for key, n in _keys_and_numbers(rows):
            owners[key].add(worker)
            per_key[key].append(n)
    assert per_key, "some claim took rows"
    for key, numbers in per_key.items():
        assert len(owners[key]) == 1, f"{key} was claimed by workers {owners[key]}"
        k = int(key[1:])
        assert sorted(numbers) == list(range(k, 200, 4))[: len(numbers)], f"{key}: {numbers}"


async def test_a_claim_says_when_other_workers_hold_every_waiting_key(
    outbox_on: SqlAlchemyOutboxedEventRepository, backend: str
) -> None:
    """`held_back` tells a relay that rows wait behind other workers' leases (so it may look
    again later), unlike an empty outbox or keys parked behind a dead letter."""
    if backend != "postgres":
        pytest.skip("only PostgreSQL's claim reports held-back keys")
    assert await outbox_on.claim(worker_id="w2", batch_size=10, lease_seconds=30) == []
    assert outbox_on.held_back is False, "an empty outbox holds nothing back"
    await outbox_on.add_many([event(n, f"k{n % 2}") for n in range(6)])
    first = await outbox_on.claim(worker_id="w1", batch_size=2, lease_seconds=30)
    assert len(first) == 2
    assert await outbox_on.claim(worker_id="w2", batch_size=10, lease_seconds=30) == []
    assert outbox_on.held_back is True
    await outbox_on.release(first, worker_id="w1")
    t = outbox_on.table.c
    claiming = create_async_engine(outbox_on.engine.url)  # another claim, before its lease
    try:
        async with claiming.connect() as conn:
            await conn.execute(sa.select(t.id).with_for_update())
            assert await outbox_on.claim(worker_id="w2", batch_size=10, lease_seconds=30) == []
            assert outbox_on.held_back is True, "rows another claim locks are held back too"
            await conn.rollback()
    finally:
        await claiming.dispose()
    first = await outbox_on.claim(worker_id="w1", batch_size=2, lease_seconds=30)
    await outbox_on.mark_failed(first[0], worker_id="w1", error="poison", retry_at=None)
    await outbox_on.mark_failed(first[1], worker_id="w1", error="poison", retry_at=None)
    assert await outbox_on.claim(worker_id="w2", batch_size=10, lease_seconds=30) == []
    assert outbox_on.held_back is False, "keys parked behind dead letters wait for no worker"


async def test_hostile_partition_keys_are_all_reached_in_order(
    outbox_on: SqlAlchemyOutboxedEventRepository,
) -> None:
    """Keys that sort oddly or look like SQL (the empty string, non-ASCII, 255 characters,
    quotes, LIKE wildcards) are values to the claim: every row of every key is claimed once,
    each key's rows in write order, including the empty key that sorts before the cursor."""
    keys = ["", "ä-ключ-🔑", "k" * 255, "o'brien; DROP TABLE x --", "%_\\", "z"]
    await outbox_on.add_many([event(n, keys[n % len(keys)]) for n in range(5 * len(keys))])
    seen: dict[str, list[int]] = defaultdict(list)
    for _ in range(40):
        rows = await outbox_on.claim(worker_id="w", batch_size=4, lease_seconds=30)
        if not rows:
            break
        for key, n in _keys_and_numbers(rows):
            seen[key].append(n)
        assert await outbox_on.mark_published(rows, worker_id="w") == len(rows)
    assert sorted(seen) == sorted(keys)
    for i, key in enumerate(keys):
        assert seen[key] == list(range(i, 5 * len(keys), len(keys))), repr(key)


class Padded(cqrs.Response):
    n: int
    text: str


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("size", [0, 100, 1000, 3000])
async def test_a_lease_update_stays_on_the_rows_page(
    outbox_on: SqlAlchemyOutboxedEventRepository, size: int
) -> None:
    """On PostgreSQL the claim's lease update keeps every row on its page (a HOT update, no
    index writes), even for pages a burst of inserts filled: the table's fill factor leaves
    room for each row's second version, whatever the payload's size."""
    await outbox_on.add_many(
        [
            cqrs.NotificationEvent[Padded](
                event_name="Changed",
                topic="orders.changed",
                payload=Padded(n=n, text="x" * size),
                partition_key=f"order-{n % 100}",
            )
            for n in range(2000)
        ]
    )
    pages = sa.text(f"SELECT id, (ctid::text::point)[0]::int FROM {outbox_on.table.name}")
    async with outbox_on.engine.connect() as conn:
        before = dict((await conn.execute(pages)).all())
    worker = "relay-host.example.internal-12345-" + "f" * 32
    claimed = await outbox_on.claim(worker_id=worker, batch_size=2000, lease_seconds=30)
    async with outbox_on.engine.connect() as conn:
        after = dict((await conn.execute(pages)).all())
    assert len(claimed) == 2000
    assert [n for n in before if after[n] != before[n]] == []
