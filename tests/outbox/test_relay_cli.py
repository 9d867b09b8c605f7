"""`cqrs relay` and `cqrs outbox` as a user runs them: real processes, real SQLite file, signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cqrs
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
        await asyncio.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        await outbox.close()
    assert process.returncode == 0, stderr
    assert "stopped: published=250" in stderr
    assert "rate=" in stderr, "progress lines are printed"
    assert "pending=" in stderr


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
    assert json.loads(cli("replay", str(dead[0]["id"])).stdout) == {"replay": 1}
    assert json.loads(cli("discard", str(dead[1]["id"])).stdout) == {"discard": 1}
    stats = json.loads(cli("stats").stdout)
    assert (stats["pending"], stats["dead"]) == (1, 0)
    refused = cli("replay")
    assert refused.returncode == 2
    assert "needs row ids" in refused.stderr
