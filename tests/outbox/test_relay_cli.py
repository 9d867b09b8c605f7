"""`cqrs relay` and `cqrs outbox` as a user runs them: real processes, real SQLite file, signals."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import cqrs
from cqrs.testing._support.services import require_service
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

CQRS = [sys.executable, "-m", "cqrs"]


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None = None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic="t", payload=Payload(n=n), partition_key=key
    )


async def seeded_outbox(path: Path, count: int) -> tuple[str, SqlAlchemyOutboxedEventRepository]:
    url = f"sqlite+aiosqlite:///{path}"
    outbox = SqlAlchemyOutboxedEventRepository.from_url(url)
    await outbox.create_schema()
    await outbox.add_many([event(n, f"k{n % 3}") for n in range(count)])
    return url, outbox


async def test_relay_drains_the_outbox_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url, outbox = await seeded_outbox(tmp_path / "app.db", 250)
    process = subprocess.Popen(
        [
            *CQRS,
            "relay",
            "--outbox",
            url,
            "--broker",
            "devnull://",
            "--workers",
            "2",
            "--batch-size",
            "40",
            "--progress",
            "0.2",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (await outbox.stats()).pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # ten progress intervals of an idle relay
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        await outbox.close()
    assert process.returncode == 0, stderr
    lines = stderr.splitlines()
    [start] = [line for line in lines if line.startswith("at start: ")]
    assert start.startswith("at start: pending=250 delayed=0 leased=0 dead=0 lag=")
    assert lines[-1].startswith("stopped: published=250 in ")
    assert lines[-1].endswith("s; pending=0 delayed=0 leased=0 dead=0 lag=-")
    progress = [re.sub(r"rate=\d+/s ", "", line) for line in lines if " rate=" in line]
    assert progress, "progress lines are printed"
    assert "pending=" in progress[0]
    repeated = [a for a, b in itertools.pairwise(progress) if a == b]
    assert not repeated, f"an idle relay repeats its progress line: {repeated}"
    assert progress[-1] == "published=250 pending=0 delayed=0 leased=0 dead=0 lag=-"


async def test_dead_letters_can_be_listed_replayed_and_discarded(tmp_path: Path) -> None:
    url, outbox = await seeded_outbox(tmp_path / "dl.db", 2)
    rows = await outbox.claim(worker_id="w", batch_size=10, lease_seconds=30)
    for row in rows:
        await outbox.mark_failed(row, worker_id="w", error="poison pill", retry_at=None)
    await outbox.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CQRS, "outbox", *args, "--outbox", url],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )

    listed = cli("dead-letters", "--json")
    assert listed.returncode == 0, listed.stderr
    dead = json.loads(listed.stdout)
    assert [d["last_error"] for d in dead] == ["poison pill", "poison pill"]
    table = cli("dead-letters").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "EVENT", "TOPIC"]
    assert [row.split()[0] for row in table[1:]] == [str(d["id"]) for d in dead]
    assert all(row.endswith("  poison pill") for row in table[1:])
    assert json.loads(cli("replay", str(dead[0]["id"]), "--json").stdout) == {"replay": 1}
    assert cli("discard", str(dead[1]["id"])).stdout == "discarded 1 dead letter\n"
    assert cli("dead-letters").stdout == "no dead letters\n"
    stats = json.loads(cli("stats", "--json").stdout)
    assert (stats["pending"], stats["dead"]) == (1, 0)
    refused = cli("replay")
    assert refused.returncode == 2
    assert "needs row ids" in refused.stderr


def outbox_cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CQRS, "outbox", *args, "--outbox", url], capture_output=True, text=True, timeout=60
    )


async def test_stats_count_the_rows_waiting_for_a_retry(tmp_path: Path) -> None:
    url, outbox = await seeded_outbox(tmp_path / "delayed.db", 3)
    [row, *_] = await outbox.claim(worker_id="w", batch_size=1, lease_seconds=30)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    await outbox.mark_failed(row, worker_id="w", error="refused", retry_at=later)
    await outbox.close()
    result = outbox_cli("stats", "--json", url=url)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["pending"], stats["delayed"], stats["leased"], stats["dead"]) == (3, 1, 0, 0)
    table = outbox_cli("stats", url=url).stdout.splitlines()
    assert [row.split() for row in table[:4]] == [
        ["pending", "3"],
        ["delayed", "1"],
        ["leased", "0"],
        ["dead", "0"],
    ]


def test_a_missing_table_is_reported_and_create_schema_creates_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    missing = outbox_cli("stats", url=url)
    assert missing.returncode == 5, missing.stderr
    assert missing.stderr == (
        f"cqrs outbox stats: --outbox {url}: the outbox table does not exist (OperationalError: "
        f"no such table: outbox); create it with: cqrs outbox create-schema --outbox '{url}' "
        "(or outbox.create_schema(), or your migrations)\n"
    )
    for _ in range(2):  # creating it again keeps it
        created = outbox_cli("create-schema", url=url)
        assert created.returncode == 0, created.stderr
        assert created.stderr == f"outbox schema ready in {url}\n"
    stats = outbox_cli("stats", "--json", url=url)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["pending"] == 0


def test_an_outbox_without_schema_has_nothing_to_create() -> None:
    result = outbox_cli("create-schema", url="memory://")
    assert result.returncode == 3
    assert result.stderr == (
        "cqrs outbox create-schema: --outbox memory://: "
        "this outbox (MemoryOutboxedEventRepository) has no schema to create\n"
    )


@pytest.mark.rabbitmq
async def test_progress_shows_what_the_relay_waits_for(tmp_path: Path) -> None:
    """Nothing is bound to the topic, so RabbitMQ returns the messages: a destination outage
    of that topic, shown on the progress line; the rows are kept, not dead-lettered."""
    broker_url = require_service("rabbitmq").url
    topic = f"cqrs-cli-unbound-{uuid.uuid4().hex[:8]}"
    url = f"sqlite+aiosqlite:///{tmp_path / 'waiting.db'}"
    outbox = SqlAlchemyOutboxedEventRepository.from_url(url)
    await outbox.create_schema()
    await outbox.add_many(
        [
            cqrs.NotificationEvent[Payload](event_name="Changed", topic=topic, payload=Payload(n=n))
            for n in range(3)
        ]
    )
    process = subprocess.Popen(
        [*CQRS, "relay", "--outbox", url, "--broker", broker_url, "--progress", "0.2"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (await outbox.stats()).delayed < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a few progress intervals
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        stats = await outbox.stats()
    finally:
        if process.poll() is None:
            process.kill()
        await outbox.close()
    assert process.returncode == 0, stderr
    assert (stats.pending, stats.dead) == (3, 0)
    assert any(line.endswith(f"waiting for: {topic}") for line in stderr.splitlines()), stderr
    summary = stderr.splitlines()[-1]
    assert summary.startswith("stopped: published=0 ")
    assert " deferred=" in summary
    assert " outages=1 " in summary
