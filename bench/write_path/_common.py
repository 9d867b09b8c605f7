"""What both sides of the write-path benchmark share: statement counting, timing, the report.

Imports only the standard library and SQLAlchemy, which both sides' environments have.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["CPU_US", "count_statements", "rates", "report"]

CPU_US: list[float] = []
"""Process CPU µs per command of each `rates` call, in call order."""


def count_statements(engine: AsyncEngine, outbox_table: str) -> Counter[str]:
    """Counts from now on: statements by verb, INSERTs into `outbox_table`, and commits."""
    verbs: Counter[str] = Counter()

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        verbs[sql.lstrip().split(None, 1)[0].upper()] += 1
        if sql.lstrip().upper().startswith(f"INSERT INTO {outbox_table.upper()}"):
            verbs["outbox_insert"] += 1

    def commit(conn: Any) -> None:
        verbs["commit"] += 1

    sa_event.listen(engine.sync_engine, "before_cursor_execute", statement)
    sa_event.listen(engine.sync_engine, "commit", commit)
    return verbs


async def rates(
    mediator: Any, command: Callable[..., Any], count: int, repeats: int, start: int
) -> list[float]:
    """Commands/s of `repeats` runs of `count` sequential sends (order ids from `start`)."""
    measured = []
    cpu = time.process_time()
    for r in range(repeats):
        commands = [
            command(order_id=f"o-{start + r * count + n}", customer=f"c-{n % 50}", amount=n)
            for n in range(count)
        ]
        started = time.perf_counter()
        for one in commands:
            await mediator.send(one)
        measured.append(count / (time.perf_counter() - started))
    CPU_US.append((time.process_time() - cpu) / (count * repeats) * 1e6)
    return measured


def report(
    side: str, cqrs_file: str, counted: Counter[str], sent: int, runs: list[float], **extra: Any
) -> None:
    """Print the side's result as one JSON line."""
    counted = Counter(counted)
    outbox_inserts = counted.pop("outbox_insert", 0)
    commits = counted.pop("commit", 0)
    print(
        json.dumps(
            {
                "side": side,
                "cqrs_file": cqrs_file,
                "commands": sent,
                "best_commands_per_s": max(runs),
                "median_commands_per_s": statistics.median(runs),
                "statements_per_command": sum(counted.values()) / sent,
                "statements_by_verb": {verb: n / sent for verb, n in sorted(counted.items())},
                "commits_per_command": commits / sent,
                "cpu_us_per_command": CPU_US[1],
                "outbox_inserts_per_command": outbox_inserts / sent,
                **extra,
            }
        )
    )
