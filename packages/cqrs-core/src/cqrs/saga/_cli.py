"""The `cqrs saga recover` command: a recovery worker for interrupted sagas."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from typing import Any

from cqrs.plugins.resolve import make_saga_storage, redact_url
from cqrs.saga.map import SagaMap
from cqrs.saga.recovery import SagaRecoveryWorker

__all__ = ["add_saga_arguments", "run_saga"]


def add_saga_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["recover"])
    parser.add_argument("--storage", required=True, help="saga storage URL")
    parser.add_argument(
        "--app",
        required=True,
        help="module:attribute of a SagaMap, or of a function filling one (like sagas_mapper)",
    )
    parser.add_argument("--container", help="module:attribute of the DI container to build steps")
    parser.add_argument("--stale-after", type=float, default=30.0, help="seconds untouched")
    parser.add_argument("--lease", type=float, default=60.0, help="lease in seconds")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between scans")
    parser.add_argument("--once", action="store_true", help="recover one batch, then exit")


def _load(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise SystemExit(f"expected module:attribute, got {reference!r}")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _saga_map(reference: str) -> SagaMap:
    target = _load(reference)
    if isinstance(target, SagaMap):
        return target
    saga_map = SagaMap()
    target(saga_map)
    return saga_map


def run_saga(args: argparse.Namespace) -> int:
    """Run a recovery worker until SIGTERM/SIGINT (or one round with `--once`)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_recover(args))


async def _recover(args: argparse.Namespace) -> int:
    from cqrs._bootstrap import container as adapt

    storage = make_saga_storage(args.storage)
    worker = SagaRecoveryWorker(
        _saga_map(args.app),
        storage,
        adapt(_load(args.container)) if args.container else None,
        stale_after=args.stale_after,
        lease_seconds=args.lease,
        poll_interval=args.poll,
    )
    print(f"recovering sagas in {redact_url(args.storage)}", file=sys.stderr, flush=True)
    try:
        if args.once:
            await worker.run_once()
        else:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, worker.stop)
            await worker.run()
    finally:
        close = getattr(storage, "close", None)
        if close is not None:
            await close()
    summary = ", ".join(f"{s.value}={n}" for s, n in sorted(worker.recovered.items())) or "none"
    print(f"recovered: {summary}", file=sys.stderr, flush=True)
    return 0
