"""The `cqrs relay` and `cqrs outbox ...` commands: run relays, inspect and repair dead letters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import signal
import sys
import time
from typing import Any

from cqrs.outbox.relay import OutboxRelay, RelayCounters
from cqrs.plugins.resolve import make_message_broker, make_outbox_repository, redact_url

__all__ = ["add_outbox_arguments", "add_relay_arguments", "run_outbox", "run_relay"]

_log = logging.getLogger("cqrs.outbox.cli")


def add_relay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outbox", required=True, help="outbox URL, e.g. postgresql+asyncpg://...")
    parser.add_argument(
        "--broker", required=True, help="broker URL, e.g. amqp://... or kafka://..."
    )
    parser.add_argument("--workers", type=int, default=1, help="relay workers in this process")
    parser.add_argument("--batch-size", type=int, default=500, help="rows claimed per round")
    parser.add_argument("--lease", type=float, default=30.0, help="lease in seconds")
    parser.add_argument("--max-attempts", type=int, default=10, help="attempts before dead letter")
    parser.add_argument(
        "--progress", type=float, default=5.0, help="seconds between progress lines (0: none)"
    )


def add_outbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["stats", "dead-letters", "replay", "discard"])
    parser.add_argument("ids", nargs="*", type=int, help="row ids for replay and discard")
    parser.add_argument("--outbox", required=True, help="outbox URL")
    parser.add_argument("--limit", type=int, default=100, help="dead letters to list")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run_relay(args: argparse.Namespace) -> int:
    """Relay until SIGTERM or SIGINT, printing a progress line every `--progress` seconds."""
    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_relay(args))


async def _relay(args: argparse.Namespace) -> int:
    outbox = make_outbox_repository(args.outbox)
    broker = make_message_broker(args.broker)
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
    progress = (
        asyncio.create_task(_progress(outbox, relays, args.progress)) if args.progress else None
    )
    try:
        await asyncio.gather(*(relay.run() for relay in relays))
    finally:
        if progress is not None:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
        for resource in (broker, outbox):
            await _close(resource)
    total = _total(relays)
    print(f"stopped: {_describe(total)}", file=sys.stderr, flush=True)
    return 0


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


def _describe(counters: RelayCounters) -> str:
    return (
        f"published={counters.published} retried={counters.retried} "
        f"dead_lettered={counters.dead_lettered} released={counters.released}"
    )


async def _progress(outbox: Any, relays: list[OutboxRelay], interval: float) -> None:
    last_published, last_time = 0, time.monotonic()
    while True:
        await asyncio.sleep(interval)
        total = _total(relays)
        now = time.monotonic()
        rate = (total.published - last_published) / max(now - last_time, 1e-9)
        last_published, last_time = total.published, now
        try:
            stats = await outbox.stats()
            lag = "-" if stats.lag is None else f"{stats.lag.total_seconds():.1f}s"
            backlog = f"pending={stats.pending} dead={stats.dead} lag={lag}"
        except Exception as exc:
            backlog = f"stats unavailable ({type(exc).__name__})"
        print(f"{_describe(total)} rate={rate:.0f}/s {backlog}", file=sys.stderr, flush=True)


async def _close(resource: Any) -> None:
    close = getattr(resource, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception:
        _log.exception("closing %r failed", resource)


def run_outbox(args: argparse.Namespace) -> int:
    """Show stats or dead letters, or replay or discard dead letters by row id."""
    return asyncio.run(_outbox(args))


async def _outbox(args: argparse.Namespace) -> int:
    outbox = make_outbox_repository(args.outbox)
    try:
        if args.action == "stats":
            stats = await outbox.stats()
            report: Any = {
                "pending": stats.pending,
                "leased": stats.leased,
                "dead": stats.dead,
                "lag_seconds": None if stats.lag is None else stats.lag.total_seconds(),
            }
        elif args.action == "dead-letters":
            report = [
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
        else:
            if not args.ids:
                print(
                    f"{args.action} needs row ids (see `cqrs outbox dead-letters`)", file=sys.stderr
                )
                return 2
            method = outbox.replay if args.action == "replay" else outbox.discard
            report = {args.action: await method(args.ids)}
    finally:
        await _close(outbox)
    if args.json or not isinstance(report, list):
        print(json.dumps(report, indent=2))
    else:
        for row in report:
            print(
                f"{row['id']}\t{row['event_name']}\t{row['partition_key'] or '-'}\t"
                f"attempts={row['attempts']}\t{row['last_error']}"
            )
    return 0
