"""The `cqrs relay` and `cqrs outbox ...` commands: run relays, inspect and repair dead letters.

Both check the outbox (and the relay its broker) before doing anything, and fail fast with one
line and an exit code of `cqrs._cli_support.ExitCode` when a URL or a service is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import logging
import signal
import sys
import time
from typing import Any

from cqrs._cli_support import (
    CommandError,
    ExitCode,
    StartupLogging,
    add_connect_timeout,
    build,
    check_broker,
    check_outbox,
    close_resource,
    epilog,
    print_table,
    service_error,
    worker_starting,
)
from cqrs.faults import is_destination_fault
from cqrs.interception.registry import registered
from cqrs.outbox.protocol import OutboxStats
from cqrs.outbox.relay import OutboxRelay, RelayCounters
from cqrs.plugins.resolve import make_message_broker, make_outbox_repository, redact_url

__all__ = ["add_outbox_arguments", "add_relay_arguments", "run_outbox", "run_relay"]

_log = logging.getLogger("cqrs.outbox.cli")

_QUIET_COUNTERS = frozenset({"published", "batches"})
"""Counters the progress line leaves out (`published` is shown first, batches say little)."""


def add_relay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outbox", metavar="URL", required=True, help="outbox URL, e.g. postgresql+asyncpg://..."
    )
    parser.add_argument(
        "--broker", metavar="URL", required=True, help="broker URL, e.g. amqp://... or kafka://..."
    )
    parser.add_argument(
        "--workers", metavar="N", type=int, default=1, help="relay workers in this process"
    )
    parser.add_argument(
        "--batch-size", metavar="N", type=int, default=500, help="rows claimed per round"
    )
    parser.add_argument(
        "--lease", metavar="SECONDS", type=float, default=30.0, help="lease in seconds"
    )
    parser.add_argument(
        "--max-attempts", metavar="N", type=int, default=10, help="attempts before dead letter"
    )
    parser.add_argument(
        "--progress",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="seconds between looks at the progress; a line is printed when it changed (0: none)",
    )
    add_connect_timeout(parser)
    parser.epilog = epilog(
        "cqrs relay --outbox postgresql+asyncpg://app:secret@db/app "
        "--broker amqp://guest:guest@mq:5672/",
        "cqrs relay --outbox sqlite+aiosqlite:///app.db --broker kafka://localhost:9092 "
        "--workers 2 --progress 0",
    )


def add_outbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["stats", "dead-letters", "replay", "discard", "create-schema"],
        help="stats: the outbox's counts; dead-letters: list them; replay or discard IDS: "
        "send dead letters again, or delete them; create-schema: create the outbox table",
    )
    parser.add_argument("ids", nargs="*", type=int, help="row ids for replay and discard")
    parser.add_argument("--outbox", metavar="URL", required=True, help="outbox URL")
    parser.add_argument("--limit", metavar="N", type=int, default=100, help="dead letters to list")
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of a table"
    )
    add_connect_timeout(parser)
    parser.epilog = epilog(
        'cqrs outbox stats --outbox "$OUTBOX_URL"',
        'cqrs outbox dead-letters --outbox "$OUTBOX_URL" --limit 20',
        'cqrs outbox replay 42 43 --outbox "$OUTBOX_URL"',
        'cqrs outbox discard 44 --outbox "$OUTBOX_URL"',
        'cqrs outbox stats --outbox "$OUTBOX_URL" --json  # for scripts and monitoring',
        'cqrs outbox create-schema --outbox "$OUTBOX_URL"  # keeps an existing table',
    )


def run_relay(args: argparse.Namespace) -> int:
    """Check the outbox and the broker, then relay until SIGTERM or SIGINT."""
    if args.workers < 1:
        print("cqrs relay: --workers must be at least 1", file=sys.stderr)
        return ExitCode.USAGE
    logs = StartupLogging(args.debug)
    return asyncio.run(_relay(args, logs))


async def _relay(args: argparse.Namespace, logs: StartupLogging) -> int:
    worker_starting("relay")
    async with contextlib.AsyncExitStack() as resources:
        outbox = build(make_outbox_repository, args.outbox, option="--outbox")
        resources.push_async_callback(close_resource, outbox)
        broker = build(make_message_broker, args.broker, option="--broker")
        resources.push_async_callback(close_resource, broker)
        await check_outbox(outbox, args.outbox, timeout=args.connect_timeout)
        await check_broker(broker, args.broker, timeout=args.connect_timeout)
        logs.started()
        relays = [
            OutboxRelay(
                outbox,
                broker,
                batch_size=args.batch_size,
                lease_seconds=args.lease,
                max_attempts=args.max_attempts,
            )
            for _ in range(args.workers)
        ]
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _stop_all, relays)
        print(
            f"relaying {redact_url(args.outbox)} -> {redact_url(args.broker)} "
            f"with {args.workers} worker(s); SIGTERM or Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        progress = _Progress(outbox, relays)
        watching = None
        if args.progress:
            print(f"at start: {await progress.begin()}", file=sys.stderr, flush=True)
            watching = asyncio.create_task(progress.watch(args.progress))
        try:
            await asyncio.gather(*(relay.run() for relay in relays))
        finally:
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
        backlog = await progress.backlog()
        elapsed = time.monotonic() - started
        print(
            f"stopped: {_counted(_total(relays))} in {elapsed:.1f}s; {backlog}",
            file=sys.stderr,
            flush=True,
        )
    return ExitCode.OK


def _stop_all(relays: list[OutboxRelay]) -> None:
    for relay in relays:
        relay.stop()


def _total(relays: list[OutboxRelay]) -> RelayCounters:
    total = RelayCounters()
    for relay in relays:
        for field in dataclasses.fields(RelayCounters):
            name = field.name
            setattr(total, name, getattr(total, name) + getattr(relay.counters, name))
    return total


def _counted(counters: RelayCounters) -> str:
    """`published=N` and every other counter that is not zero, in declaration order."""
    shown = [f"published={counters.published}"]
    for field in dataclasses.fields(RelayCounters):
        value = getattr(counters, field.name)
        if field.name not in _QUIET_COUNTERS and value:
            shown.append(f"{field.name}={value}")
    return " ".join(shown)


class _Progress:
    """The relay's progress line, printed only when the counters, the backlog or the outages
    changed since the last one, so an idle relay stays quiet."""

    def __init__(self, outbox: Any, relays: list[OutboxRelay]) -> None:
        self.outbox = outbox
        self.relays = relays
        self._last: tuple[str, object, str] | None = None
        self._published = 0
        self._since = time.monotonic()

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            line = await self.line()
            if line is not None:
                print(line, file=sys.stderr, flush=True)

    async def begin(self) -> str:
        """The outbox's counts at start, which the first progress line must differ from."""
        backlog, self._last, _ = await self._state()
        return backlog

    async def line(self) -> str | None:
        """The progress line, or `None` when nothing changed since the last one (or since
        `begin()`)."""
        backlog, key, published = await self._state()
        if key == self._last:
            return None
        self._last = key
        counted, _, waiting = key
        now = time.monotonic()
        rate = (published - self._published) / max(now - self._since, 1e-9)
        self._published, self._since = published, now
        line = f"{counted} rate={rate:.0f}/s {backlog}"
        return f"{line} waiting for: {waiting}" if waiting else line

    async def _state(self) -> tuple[str, tuple[str, object, str], int]:
        """The backlog as text; what tells a change (the counters, the outbox's counts but not
        the lag, which grows by itself, and the destinations waited for); events published."""
        total = _total(self.relays)
        backlog, counts = await self._backlog()
        waiting = ", ".join(
            sorted({outage.scope for relay in self.relays for outage in relay.outages})
        )
        return backlog, (_counted(total), counts, waiting), total.published

    async def backlog(self) -> str:
        """The outbox's counts now, for the final summary."""
        return (await self._backlog())[0]

    async def _backlog(self) -> tuple[str, object]:
        """The outbox's counts as text, and what of them tells a change (not the lag)."""
        try:
            stats = await self.outbox.stats()
        except Exception as error:
            return f"outbox stats unavailable ({type(error).__name__})", type(error).__name__
        _observed(stats)
        lag = "-" if stats.lag is None else f"{stats.lag.total_seconds():.1f}s"
        counts = (stats.pending, stats.delayed, stats.leased, stats.dead)
        text = (
            f"pending={stats.pending} delayed={stats.delayed} leased={stats.leased} "
            f"dead={stats.dead} lag={lag}"
        )
        return text, counts


def _observed(stats: OutboxStats) -> None:
    """Hand the counts read to the registered interceptors (`on_outbox_stats`: gauges)."""
    for interceptor in registered():
        interceptor.on_outbox_stats(stats)


def run_outbox(args: argparse.Namespace) -> int:
    """Show stats or dead letters, replay or discard dead letters, or create the outbox table."""
    if args.action in ("replay", "discard") and not args.ids:
        print(
            f"cqrs outbox {args.action}: needs row ids (see `cqrs outbox dead-letters`)",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    StartupLogging(args.debug)
    return asyncio.run(_outbox(args))


async def _outbox(args: argparse.Namespace) -> int:
    outbox = build(make_outbox_repository, args.outbox, option="--outbox")
    try:
        if args.action == "create-schema":
            return await _create_schema(outbox, args)
        stats = await check_outbox(outbox, args.outbox, timeout=args.connect_timeout)
        _observed(stats)
        try:
            report = await _act(outbox, args, stats)
        except Exception as error:
            if is_destination_fault(error):
                raise service_error(
                    error, option="--outbox", url=args.outbox, what="outbox"
                ) from error
            raise
    finally:
        await close_resource(outbox)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.action == "stats":
        _print_stats(report)
    elif args.action == "dead-letters":
        _print_dead_letters(report, limit=args.limit)
    else:
        _print_settled(args.action, report[args.action], args.ids)
    return ExitCode.OK


def _print_stats(stats: dict[str, Any]) -> None:
    lag = stats["lag_seconds"]
    print_table(
        [
            ("pending", str(stats["pending"])),
            ("delayed", str(stats["delayed"])),
            ("leased", str(stats["leased"])),
            ("dead", str(stats["dead"])),
            ("lag", "-" if lag is None else f"{lag:.1f}s"),
        ]
    )


def _print_dead_letters(rows: list[dict[str, Any]], *, limit: int) -> None:
    if not rows:
        print("no dead letters")
        return
    table = [("ID", "EVENT", "TOPIC", "KEY", "ATTEMPTS", "CREATED", "LAST ERROR")]
    for row in rows:
        created = datetime.datetime.fromisoformat(row["created_at"])
        table.append(
            (
                str(row["id"]),
                row["event_name"],
                row["topic"],
                row["partition_key"] or "-",
                str(row["attempts"]),
                created.isoformat(sep=" ", timespec="seconds"),
                " ".join((row["last_error"] or "-").split()),
            )
        )
    print_table(table)
    if len(rows) == limit:
        sys.stdout.flush()
        print(f"(showing the first {limit}; there may be more: raise --limit)", file=sys.stderr)


def _print_settled(action: str, changed: int, ids: list[int]) -> None:
    """Say how many dead letters `replay` or `discard` changed, and whether some ids were not
    dead letters (already replayed, discarded, or never dead)."""
    done = "replayed" if action == "replay" else "discarded"
    asked = len(set(ids))
    if changed == asked:
        print(f"{done} {changed} dead letter{'' if changed == 1 else 's'}")
        return
    left = asked - changed
    print(
        f"{done} {changed} of {asked} ids: {left} "
        f"{'is not a dead letter' if left == 1 else 'are not dead letters'} "
        "(see `cqrs outbox dead-letters`)"
    )


async def _act(outbox: Any, args: argparse.Namespace, stats: Any) -> Any:
    if args.action == "stats":
        return {
            "pending": stats.pending,
            "delayed": stats.delayed,
            "leased": stats.leased,
            "dead": stats.dead,
            "lag_seconds": None if stats.lag is None else stats.lag.total_seconds(),
        }
    if args.action == "dead-letters":
        return [
            {
                "id": row.id,
                "event_id": str(row.event_id),
                "event_name": row.event_name,
                "topic": row.topic,
                "partition_key": row.partition_key,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
            }
            for row in await outbox.dead_letters(limit=args.limit)
        ]
    method = outbox.replay if args.action == "replay" else outbox.discard
    return {args.action: await method(args.ids)}


async def _create_schema(outbox: Any, args: argparse.Namespace) -> int:
    """Create the outbox table if the outbox has one to create (an existing table is kept)."""
    create = getattr(outbox, "create_schema", None)
    if create is None:
        raise CommandError(
            f"--outbox {redact_url(args.outbox)}: this outbox ({type(outbox).__name__}) "
            "has no schema to create",
            ExitCode.CONFIG,
        )
    try:
        async with asyncio.timeout(args.connect_timeout):
            await create()
    except Exception as error:
        raise service_error(
            error,
            option="--outbox",
            url=args.outbox,
            what="outbox",
            timeout=args.connect_timeout,
        ) from error
    print(f"outbox schema ready in {redact_url(args.outbox)}", file=sys.stderr)
    return ExitCode.OK
