"""The `cqrs saga recover` command: a recovery worker for interrupted sagas.

Resumed steps' notification events go where the first run sent them: to the outbox of a
storage that writes one (a SQL URL with `?outbox=TABLE`), or to `--broker`. Domain events go to
the handlers `--events` names. Without an outbox or a broker the command refuses to start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from cqrs._cli_support import (
    CommandError,
    ExitCode,
    StartupLogging,
    add_connect_timeout,
    build,
    check_broker,
    check_saga_storage,
    close_resource,
    epilog,
    load_reference,
    reference_error,
    worker_starting,
)
from cqrs.events.map import EventMap
from cqrs.plugins.resolve import make_message_broker, make_saga_storage
from cqrs.redaction import redact_url
from cqrs.saga.map import SagaMap
from cqrs.saga.recovery import SagaRecoveryConfigError, SagaRecoveryOutcome, SagaRecoveryWorker

__all__ = ["add_saga_arguments", "run_saga"]


def add_saga_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=["recover"], help="recover: resume or compensate interrupted sagas"
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        required=True,
        help="saga storage URL; for SQL add ?outbox=TABLE to write resumed steps' "
        "notification events to that outbox table of the same database",
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        required=True,
        help="module:attribute of a SagaMap, or of a function filling one (like sagas_mapper)",
    )
    parser.add_argument(
        "--container",
        metavar="MODULE:ATTR",
        help="module:attribute of the DI container to build steps",
    )
    parser.add_argument(
        "--events",
        metavar="MODULE:ATTR",
        help="module:attribute of an EventMap, or of a function filling one "
        "(like domain_events_mapper): the handlers of resumed steps' domain events",
    )
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="broker URL for notification events when the storage writes no outbox "
        "(devnull:// drops them on purpose)",
    )
    parser.add_argument(
        "--stale-after", metavar="SECONDS", type=float, default=30.0, help="seconds untouched"
    )
    parser.add_argument(
        "--lease", metavar="SECONDS", type=float, default=60.0, help="lease in seconds"
    )
    parser.add_argument(
        "--poll", metavar="SECONDS", type=float, default=5.0, help="seconds between scans"
    )
    parser.add_argument("--once", action="store_true", help="recover one batch, then exit")
    add_connect_timeout(parser)
    parser.epilog = epilog(
        'cqrs saga recover --storage "postgresql+asyncpg://app:secret@db/app?outbox=outbox" '
        "--app myservice.sagas:init_sagas",
        "cqrs saga recover --storage redis://localhost:6379/0 --broker amqp://guest:guest@mq/ "
        "--app myservice.sagas:init_sagas --container myservice.di:container --once",
    )


def _filled(reference: str, option: str, kind: type[Any]) -> Any:
    """The `kind` instance `reference` names, or a new one filled by the function it names."""
    target = load_reference(reference, option=option)
    if isinstance(target, kind):
        return target
    if not callable(target):
        raise reference_error(
            option, reference, f"is neither a {kind.__name__} nor a function filling one"
        )
    filled = kind()
    target(filled)
    return filled


def run_saga(args: argparse.Namespace) -> int:
    """Check the storage (and the broker), then recover until SIGTERM/SIGINT, or one round
    with `--once`."""
    logs = StartupLogging(args.debug)
    return asyncio.run(_recover(args, logs))


async def _recover(args: argparse.Namespace, logs: StartupLogging) -> int:
    worker_starting("saga recover")
    from cqrs._bootstrap import container as adapt

    saga_map = _filled(args.app, "--app", SagaMap)
    event_map = _filled(args.events, "--events", EventMap) if args.events else None
    container = (
        adapt(load_reference(args.container, option="--container")) if args.container else None
    )
    async with contextlib.AsyncExitStack() as resources:
        storage = build(make_saga_storage, args.storage, option="--storage")
        resources.push_async_callback(close_resource, storage)
        if not storage.writes_outbox and not args.broker:
            raise CommandError(
                f"--storage {redact_url(args.storage)} writes no outbox and no --broker was "
                "given, so resumed steps' notification events would be lost: add "
                "?outbox=TABLE to a SQL --storage URL, or pass --broker URL "
                "(devnull:// drops them on purpose)",
                ExitCode.CONFIG,
            )
        broker = None
        if args.broker:
            broker = build(make_message_broker, args.broker, option="--broker")
            resources.push_async_callback(close_resource, broker)
        try:
            worker = SagaRecoveryWorker(
                saga_map,
                storage,
                container,
                stale_after=args.stale_after,
                lease_seconds=args.lease,
                poll_interval=args.poll,
                event_map=event_map,
                message_broker=broker,
            )
        except SagaRecoveryConfigError as exc:
            raise CommandError(str(exc), ExitCode.CONFIG) from exc
        await check_saga_storage(storage, args.storage, timeout=args.connect_timeout)
        if broker is not None:
            await check_broker(broker, args.broker, timeout=args.connect_timeout)
        logs.started()
        destination = "its outbox" if storage.writes_outbox else redact_url(args.broker)
        print(
            f"recovering sagas in {redact_url(args.storage)}; step events to {destination}",
            file=sys.stderr,
            flush=True,
        )
        await _work(worker, once=args.once)
    print(f"recovered: {_summary(worker)}", file=sys.stderr, flush=True)
    return ExitCode.OK


async def _work(worker: SagaRecoveryWorker, *, once: bool) -> None:
    """One batch, or rounds until a signal: the first finishes the saga in hand, a second one
    cancels it (its lease is then released for the next worker)."""
    if once:
        await worker.run_once()
        return
    loop = asyncio.get_running_loop()
    running = asyncio.ensure_future(worker.run())

    def on_signal() -> None:
        if worker.stopping:
            running.cancel()
        worker.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    with contextlib.suppress(asyncio.CancelledError):
        await running


def _summary(worker: SagaRecoveryWorker) -> str:
    ended = ", ".join(f"{s.value}={n}" for s, n in sorted(worker.recovered.items())) or "none"
    skipped = [
        f"{outcome.value}={worker.outcomes[outcome]}"
        for outcome in SagaRecoveryOutcome
        if outcome is not SagaRecoveryOutcome.RESUMED and worker.outcomes[outcome]
    ]
    if worker.errors:
        skipped.append(f"errors={worker.errors}")
    return ended + (f"; not resumed: {', '.join(skipped)}" if skipped else "")
