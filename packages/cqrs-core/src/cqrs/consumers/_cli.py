"""The `cqrs consume` command: run a consumer of broker events until SIGTERM or SIGINT.

`--app module:attribute` names a function that binds the handlers in an `EventMap` (like
`events_mapper`) and returns the event names the consumer decodes, each with its event type::

    def consumer(events: cqrs.EventMap) -> dict[str, type]:
        events.bind(OrderPaidEvent, SendReceipt)
        return {"OrderPaid": OrderPaidEvent}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping
from typing import Any

from cqrs._cli_support import (
    ExitCode,
    StartupLogging,
    add_connect_timeout,
    build,
    check_inbox,
    close_resource,
    epilog,
    load_reference,
    reference_error,
    service_error,
    worker_starting,
)
from cqrs.consumers.runner import ConsumerCounters, ConsumerRunner
from cqrs.events.map import EventMap
from cqrs.redaction import redact_url

__all__ = ["add_consume_arguments", "run_consume"]


def add_consume_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        metavar="URL",
        required=True,
        help="broker URL to consume from, e.g. amqp://... or kafka://",
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        required=True,
        help="module:attribute of a function binding handlers in an EventMap and returning "
        "{event name: event type} for the events it consumes",
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=[],
        metavar="TOPIC",
        help="Kafka topics, or RabbitMQ routing keys bound to the queue",
    )
    parser.add_argument(
        "--group", "--queue", dest="group", help="Kafka consumer group, or RabbitMQ queue"
    )
    parser.add_argument(
        "--inbox",
        metavar="URL",
        help="inbox URL, e.g. postgresql+asyncpg://...?table=inbox: handle each event id once",
    )
    parser.add_argument(
        "--container",
        metavar="MODULE:ATTR",
        help="module:attribute of the DI container of handlers",
    )
    parser.add_argument(
        "--concurrency",
        metavar="N",
        type=int,
        default=1,
        help="messages of different keys handled at once",
    )
    parser.add_argument(
        "--progress",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="seconds between looks at the counters; a line is printed when they changed (0: none)",
    )
    add_connect_timeout(parser)
    parser.epilog = epilog(
        "cqrs consume --broker kafka://localhost:9092 --app receipts:consumer "
        "--topics invoices --group receipts",
        'cqrs consume --broker "amqp://guest:guest@mq/?exchange=billing" --app receipts:consumer '
        "--topics invoice.paid --queue receipts --concurrency 4 "
        '--inbox "postgresql+asyncpg://app:secret@db/app?table=inbox"',
    )


def run_consume(args: argparse.Namespace) -> int:
    """Check the references and the broker, then consume until SIGTERM/SIGINT."""
    if args.concurrency < 1:
        print("cqrs consume: --concurrency must be at least 1", file=sys.stderr)
        return ExitCode.USAGE
    logs = StartupLogging(args.debug)
    return asyncio.run(_consume(args, logs))


def _event_types(reference: str, events: EventMap) -> dict[str, type]:
    """Call the `--app` function with `events` and check the event types it returns."""
    target = load_reference(reference, option="--app")
    if not callable(target):
        raise reference_error("--app", reference, "is not a function filling an EventMap")
    try:
        returned = target(events)
    except Exception as error:
        problem = f"failed: {type(error).__name__}: {error}"
        raise reference_error("--app", reference, problem) from error
    if (
        not isinstance(returned, Mapping)
        or not returned
        or not all(isinstance(k, str) and isinstance(v, type) for k, v in returned.items())
    ):
        raise reference_error(
            "--app",
            reference,
            "must return the events it consumes as {event name: event type}, "
            "e.g. {'OrderPaid': OrderPaidEvent}",
        )
    return dict(returned)


async def _consume(args: argparse.Namespace, logs: StartupLogging) -> int:
    worker_starting("consume")
    from cqrs._bootstrap import container as adapt
    from cqrs.consumers.dispatcher import MessageDispatcher
    from cqrs.events.bootstrap import bootstrap
    from cqrs.plugins.resolve import make_consumer_transport, make_inbox

    event_types: dict[str, type] = {}

    def bind(events: EventMap) -> None:
        event_types.update(_event_types(args.app, events))

    container = (
        adapt(load_reference(args.container, option="--container")) if args.container else None
    )
    mediator = bootstrap(di_container=container, events_mapper=bind)
    async with contextlib.AsyncExitStack() as resources:
        transport = build(
            lambda url: make_consumer_transport(url, topics=args.topics, group=args.group),
            args.broker,
            option="--broker",
        )
        inbox = None
        if args.inbox:
            inbox = build(make_inbox, args.inbox, option="--inbox")
            resources.push_async_callback(close_resource, inbox)
            await check_inbox(
                inbox, args.inbox, timeout=args.connect_timeout, consumer=args.group or "default"
            )
        dispatcher = MessageDispatcher(
            mediator, event_types, inbox=inbox, consumer_name=args.group or "default"
        )
        runner: ConsumerRunner[Any] = ConsumerRunner(
            transport, dispatcher, concurrency=args.concurrency
        )
        running = asyncio.ensure_future(runner.run())
        try:
            async with asyncio.timeout(args.connect_timeout):
                await runner.wait_started()
        except Exception as error:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            cause = error.__cause__ if isinstance(error, RuntimeError) else None
            raise service_error(
                cause if isinstance(cause, Exception) else error,
                option="--broker",
                url=args.broker,
                what="broker",
                timeout=args.connect_timeout,
            ) from error
        logs.started()
        print(
            f"consuming {redact_url(args.broker)} ({', '.join(args.topics) or '-'}) "
            f"group={args.group or '-'} concurrency={args.concurrency}; SIGTERM or Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        _on_signals(runner, running)
        watching = (
            asyncio.create_task(_progress(runner.counters, args.progress))
            if args.progress
            else None
        )
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await running
        finally:
            if watching is not None:
                watching.cancel()
    print(f"stopped: {_counted(runner.counters)}", file=sys.stderr, flush=True)
    return ExitCode.OK


def _on_signals(runner: ConsumerRunner[Any], running: asyncio.Future[None]) -> None:
    """The first SIGTERM/SIGINT finishes the messages in hand; a second one cancels them."""

    def on_signal() -> None:
        if runner.stopping:
            running.cancel()
        runner.stop()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)


def _counted(counters: ConsumerCounters) -> str:
    fields = ("received", "handled", "duplicates", "dead_lettered", "left", "ack_failures")
    shown = [f"{name}={getattr(counters, name)}" for name in fields[:2]]
    shown += [f"{name}={getattr(counters, name)}" for name in fields[2:] if getattr(counters, name)]
    return " ".join(shown)


async def _progress(counters: ConsumerCounters, interval: float) -> None:
    """Print the counters every `interval` seconds when they changed since the last line."""
    last = _counted(counters)
    while True:
        await asyncio.sleep(interval)
        line = _counted(counters)
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
