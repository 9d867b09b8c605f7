"""Relay scale-out: N `cqrs relay` OS processes on one PostgreSQL outbox, to RabbitMQ and Kafka.

For each broker, key count and N: a fresh outbox table, N `python -m cqrs relay` processes
started and idle (each has printed its "relaying ..." line, so it checked the database and
connected to the broker), then `--events` rows inserted in one transaction. The clock starts
when that commit returns (the insert trigger's NOTIFY wakes the relays) and stops when the
table is empty, every row published and settled. CPU per event comes from `/proc/<pid>/stat`
(user + system) of the relay processes, PostgreSQL's processes and the broker's, sampled at
both ends. Afterwards the relays are stopped with SIGTERM, each one's `stopped:` line gives
how many rows it published, and the topic is read back: every message counted and its event
id checked, so a row published twice shows as a duplicate. Each repeat runs every N once, in
an order rotated from repeat to repeat; the table gives each N's median run.

    .venv/bin/python bench/relay_scale_bench.py [--quick] [--processes 1,2,3] [--keys 1000,10]
        [--brokers rabbitmq,kafka] [--events 20000] [--repeats 5] [--json PATH]

Needs PostgreSQL and RabbitMQ on loopback (`BENCH_DATABASE_URL`, `BENCH_AMQP_URL`); Kafka is a
tansu broker started for the run (`cqrs_kafka.testing.TansuBroker`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from relay._kafka import read_records

import cqrs
from cqrs.brokers.message import HEADER_NAMES
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

__all__ = ["main"]

DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
AMQP = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
_TICKS = os.sysconf("SC_CLK_TCK")
_SERVICE_PROCESSES = {"postgres": ("postgres",), "rabbitmq": ("beam.smp",), "kafka": ("tansu",)}

OrderPaid = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _pids_named(names: Sequence[str]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() in names:
                    pids.append(int(entry))
    return pids


@dataclass
class CpuSample:
    """CPU seconds per process of each group at one instant."""

    groups: dict[str, dict[int, float]] = field(default_factory=dict)

    @classmethod
    def take(cls, relays: Sequence[int], broker: str) -> CpuSample:
        sample = cls()
        sample.groups["relays"] = {pid: _cpu_seconds(pid) for pid in relays}
        for group in ("postgres", broker):
            pids = _pids_named(_SERVICE_PROCESSES[group])
            sample.groups[group] = {pid: _cpu_seconds(pid) for pid in pids}
        return sample

    def since(self, start: CpuSample) -> dict[str, float]:
        """CPU seconds each group used between `start` and this sample (new processes count
        from zero; processes that ended meanwhile are lost, which only PostgreSQL has)."""
        return {
            group: sum(cpu - start.groups.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in self.groups.items()
        }


class Relays:
    """N `cqrs relay` processes; their stderr is collected in the background."""

    def __init__(self, outbox_url: str, broker_url: str, count: int, batch_size: int) -> None:
        self.command = [
            sys.executable,
            "-m",
            "cqrs",
            "relay",
            "--outbox",
            outbox_url,
            "--broker",
            broker_url,
            "--batch-size",
            str(batch_size),
            "--progress",
            "0",
        ]
        self.count = count
        self.processes: list[asyncio.subprocess.Process] = []
        self.lines: list[list[str]] = []
        self._readers: list[asyncio.Task[None]] = []
        self._ready: list[asyncio.Event] = []

    async def start(self, timeout: float = 60.0) -> None:
        for _ in range(self.count):
            process = await asyncio.create_subprocess_exec(
                *self.command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            lines: list[str] = []
            ready = asyncio.Event()
            self.processes.append(process)
            self.lines.append(lines)
            self._ready.append(ready)
            self._readers.append(asyncio.create_task(self._read(process, lines, ready)))
        async with asyncio.timeout(timeout):
            for ready, process, lines in zip(self._ready, self.processes, self.lines, strict=True):
                waiting = asyncio.create_task(ready.wait())
                exited = asyncio.create_task(process.wait())
                await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                exited.cancel()
                if not ready.is_set():
                    raise RuntimeError("a relay exited at start:\n" + "".join(lines))

    @staticmethod
    async def _read(
        process: asyncio.subprocess.Process, lines: list[str], ready: asyncio.Event
    ) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            if line.startswith("relaying "):
                ready.set()

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    async def stop(self) -> list[int]:
        """SIGTERM each relay; how many rows each one published (from its `stopped:` line)."""
        for process in self.processes:
            if process.returncode is None:
                process.terminate()
        published = []
        for process, reader, lines in zip(self.processes, self._readers, self.lines, strict=True):
            try:
                async with asyncio.timeout(30):
                    await process.wait()
                    await reader
            except TimeoutError:
                process.kill()
                await process.wait()
                raise
            stopped = [line for line in lines if line.startswith("stopped:")]
            match = re.search(r"published=(\d+)", stopped[-1]) if stopped else None
            if process.returncode != 0 or match is None:
                raise RuntimeError(f"relay exited with {process.returncode}:\n" + "".join(lines))
            published.append(int(match.group(1)))
        return published


class RabbitSide:
    """A queue bound to the run's topic on the relays' exchange; read back after the run."""

    def __init__(self) -> None:
        self.topic = f"bench.scale.{uuid.uuid4().hex[:10]}"
        self.broker_url = AMQP

    @contextlib.asynccontextmanager
    async def ready(self) -> AsyncIterator[RabbitSide]:
        import aio_pika

        from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE

        connection = await aio_pika.connect(AMQP)
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                DEFAULT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self.queue = await channel.declare_queue(f"{self.topic}.q", durable=False)
            await self.queue.bind(exchange, routing_key=self.topic)
            yield self
        finally:
            with contextlib.suppress(Exception):
                await self.queue.delete(if_unused=False, if_empty=False)
            await connection.close()

    async def event_ids(self, expected: int) -> Counter[str]:
        """The event ids of every message in the queue, read until it stays empty for 1 s."""
        ids: Counter[str] = Counter()
        done = asyncio.Event()
        last = time.monotonic()

        async def on_message(message: Any) -> None:
            nonlocal last
            ids[str(message.message_id)] += 1
            last = time.monotonic()

        tag = await self.queue.consume(on_message, no_ack=True)
        try:
            while not done.is_set():
                await asyncio.sleep(0.1)
                if ids.total() >= expected and time.monotonic() - last > 1.0:
                    done.set()
                if time.monotonic() - last > 5.0:
                    done.set()
        finally:
            await self.queue.cancel(tag)
        return ids


class KafkaSide:
    """The run's own topic on the tansu broker; read back from the start after the run."""

    def __init__(self, servers: str) -> None:
        self.servers = servers
        self.topic = f"bench-scale-{uuid.uuid4().hex[:10]}"
        self.broker_url = f"kafka://{servers}"

    @contextlib.asynccontextmanager
    async def ready(self) -> AsyncIterator[KafkaSide]:
        yield self

    async def event_ids(self, expected: int) -> Counter[str]:
        records = await read_records(self.servers, self.topic, expected)
        header = HEADER_NAMES["message_id"]
        return Counter(dict(record.headers or ()).get(header, b"").decode() for record in records)


async def _remaining(engine: Any, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def measure(
    broker: str, side: RabbitSide | KafkaSide, processes: int, keys: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One run: N relay processes drain `args.events` rows over `keys` partition keys."""
    table_name = f"bench_scale_{uuid.uuid4().hex[:10]}"
    outbox = SqlAlchemyOutboxedEventRepository.from_url(f"{DATABASE}?table={table_name}")
    await outbox.create_schema()
    events = [
        OrderPaid(
            event_name="OrderPaid",
            topic=side.topic,
            payload={"order": i % keys, "line": i, "amount": 1250 + i % 97},
            partition_key=f"order-{i % keys}",
        )
        for i in range(args.events)
    ]
    relays = Relays(f"{DATABASE}?table={table_name}", side.broker_url, processes, args.batch_size)
    try:
        async with side.ready():
            await relays.start()
            await asyncio.sleep(0.5)  # let the relays settle into their idle wait
            async with outbox.engine.begin() as conn:
                await conn.execute(sa.insert(outbox.table), outbox.rows_for(events))
                before = CpuSample.take(relays.pids, broker)
            started = time.perf_counter()
            async with asyncio.timeout(args.timeout):
                while await _remaining(outbox.engine, outbox.table):
                    await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            cpu = CpuSample.take(relays.pids, broker).since(before)
            split = await relays.stop()
            ids = await side.event_ids(args.events)
    finally:
        for process in relays.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await outbox.drop_schema()
        await outbox.close()
    expected = {str(event.event_id) for event in events}
    missing = len(expected - set(ids))
    if missing:
        raise RuntimeError(f"{missing} events never reached {broker}")
    return {
        "broker": broker,
        "processes": processes,
        "keys": keys,
        "events": args.events,
        "seconds": elapsed,
        "events_per_s": args.events / elapsed,
        "cpu_us_per_event": {group: s * 1e6 / args.events for group, s in cpu.items()},
        "published_per_process": split,
        "messages": ids.total(),
        "duplicates": ids.total() - len(ids),
    }


@contextlib.contextmanager
def _broker_side(broker: str) -> Any:
    if broker == "rabbitmq":
        yield lambda: RabbitSide()
        return
    from cqrs_kafka.testing import TansuBroker

    with TansuBroker() as tansu:
        yield lambda: KafkaSide(tansu.bootstrap_servers)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for broker in args.brokers:
        with _broker_side(broker) as make_side:
            for keys in args.keys:
                for repeat in range(args.repeats):
                    # Rotate the order per repeat: a run early in a repeat finds the broker
                    # and the database with less behind them, which would favour one N.
                    shift = repeat % len(args.processes)
                    for processes in args.processes[shift:] + args.processes[:shift]:
                        result = await measure(broker, make_side(), processes, keys, args)
                        result["repeat"] = repeat
                        results.append(result)
                        _progress(result)
    return results


def _progress(result: dict[str, Any]) -> None:
    cpu = result["cpu_us_per_event"]
    print(
        f"{result['broker']:8} keys={result['keys']:<5} N={result['processes']} "
        f"{result['events_per_s']:8.0f} ev/s  cpu us/ev relays {cpu['relays']:.0f} "
        f"pg {cpu['postgres']:.0f} broker {cpu[result['broker']]:.0f}  "
        f"split {result['published_per_process']}  dup {result['duplicates']}",
        file=sys.stderr,
        flush=True,
    )


def table(results: list[dict[str, Any]]) -> str:
    """The medians per (broker, keys, N) as a Markdown table."""
    rows = [
        "| broker | keys | relay processes | events/s (median) | relay CPU µs/event "
        "| PostgreSQL CPU µs/event | broker CPU µs/event | rows per process | duplicates |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["broker"], result["keys"], result["processes"]), []).append(
            result
        )
    for (broker, keys, processes), runs in groups.items():
        cpu = {
            group: statistics.median(run["cpu_us_per_event"][group] for run in runs)
            for group in ("relays", "postgres", broker)
        }
        rate = statistics.median(run["events_per_s"] for run in runs)
        middle = sorted(runs, key=lambda run: run["events_per_s"])[len(runs) // 2]
        rows.append(
            f"| {broker} | {keys} | {processes} | {rate:,.0f} "
            f"| {cpu['relays']:.0f} | {cpu['postgres']:.0f} | {cpu[broker]:.0f} "
            f"| {'/'.join(str(n) for n in middle['published_per_process'])} "
            f"| {sum(run['duplicates'] for run in runs)} |"
        )
    return "\n".join(rows)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=_ints, default=[1, 2, 3])
    parser.add_argument("--keys", type=_ints, default=[1000, 10])
    parser.add_argument(
        "--brokers", type=lambda text: text.split(","), default=["rabbitmq", "kafka"]
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="smoke test: 2000 events, 1 repeat")
    parser.add_argument("--json", default="", help="also write every run to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.repeats = 2000, 1
    return args


def run_scale(python: Path, *, quick: bool = False) -> list[dict[str, Any]]:
    """This benchmark in a process of its own (`python`, the workspace's interpreter): `run.py`
    calls it so the relays' CPU is not mixed with the caller's."""
    print("bench: relay scale-out (N cqrs relay processes on one outbox) ...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "scale.json"
        command = [str(python), str(Path(__file__)), "--json", str(out)]
        subprocess.run([*command, *(["--quick"] if quick else [])], check=True)
        results: list[dict[str, Any]] = json.loads(out.read_text())
    return results


def print_scale(results: list[dict[str, Any]]) -> None:
    """The scale-out table, for `run.py`'s report."""
    print(
        "\nRelay scale-out: N `cqrs relay` processes drain one PostgreSQL outbox "
        f"({results[0]['events']} events; median of the runs; CPU from /proc)\n"
    )
    print(table(results))


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = parse(argv)
    results = asyncio.run(run(args))
    print(table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return results


if __name__ == "__main__":
    main()
