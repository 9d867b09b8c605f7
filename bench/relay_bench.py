"""The outbox relay benchmark: PostgreSQL -> RabbitMQ / Kafka throughput, idle latency, SQL.

Run from run.py (or alone: `python bench/relay_bench.py [--quick]` with the workspace
interpreter). Each measurement runs in a subprocess of its side's interpreter (bench/relay/),
which seeds a fresh outbox table, relays it, checks the table and the broker, and prints JSON.
Kafka is a tansu broker started here with `cqrs_kafka.testing.TansuBroker`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RelayOptions", "add_arguments", "main", "print_relay", "run_relay"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORKERS = BENCH / "relay"

MIN_SPEEDUP = 10.0
MIN_RATE = 15_000.0
ROUNDS = 3
"""Runs of each configuration; the table shows the median run (issue 13: not the best)."""


@dataclass(frozen=True)
class RelayOptions:
    """Sizes and service addresses of one relay benchmark run."""

    events: int = 20_000
    pycqrs_events: int = 2_000
    batch_size: int = 500
    latency_samples: int = 50
    database: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    amqp: str = "amqp://guest:guest@127.0.0.1:5672/"
    kafka: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The relay benchmark's options, shared by run.py and this module's `main`."""
    parser.add_argument("--relay-events", type=int, default=20_000, help="rows relayed, ours")
    parser.add_argument(
        "--pycqrs-relay-events", type=int, default=2_000, help="rows relayed, python-cqrs"
    )
    parser.add_argument("--relay-latency-samples", type=int, default=50)
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", RelayOptions.database),
        help="PostgreSQL URL (asyncpg) for the outbox tables",
    )
    parser.add_argument(
        "--amqp", default=os.environ.get("BENCH_AMQP_URL", RelayOptions.amqp), help="RabbitMQ URL"
    )
    parser.add_argument("--no-kafka", action="store_true", help="skip the Kafka (tansu) rows")


def options_from(args: argparse.Namespace) -> RelayOptions:
    """`RelayOptions` from parsed arguments; `--quick` shrinks every count."""
    quick = getattr(args, "quick", False)
    return RelayOptions(
        events=2_000 if quick else args.relay_events,
        pycqrs_events=200 if quick else args.pycqrs_relay_events,
        latency_samples=5 if quick else args.relay_latency_samples,
        database=args.database,
        amqp=args.amqp,
        kafka=not args.no_kafka,
    )


def _worker(python: Path, side: str, command: str, opts: RelayOptions, **extra: Any) -> Any:
    arguments = [
        str(python),
        str(WORKERS / f"{side}.py"),
        command,
        f"--database={opts.database}",
        f"--amqp={opts.amqp}",
        f"--batch-size={opts.batch_size}",
        *(f"--{name.replace('_', '-')}={value}" for name, value in extra.items()),
    ]
    done = subprocess.run(
        arguments, capture_output=True, text=True, check=False, cwd=ROOT, timeout=180
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: relay {side} {command} {extra} failed:\n{done.stderr}")
    report = json.loads(done.stdout)
    if command == "throughput":
        events = extra["events"]
        problems = [
            f"{name}={report[name]}"
            for name, want in (("published", events), ("delivered", events))
            if report[name] != want
        ]
        if report["rows_left_in_table"]:
            problems.append(f"rows_left_in_table={report['rows_left_in_table']}")
        if problems:
            raise SystemExit(
                f"bench: relay {side} {extra}: expected {events} events published and "
                f"delivered, got {', '.join(problems)}"
            )
    return report


def _throughput(
    ours: Path, pycqrs: Path, opts: RelayOptions, broker: str, **extra: Any
) -> dict[str, Any]:
    """Each configuration `ROUNDS` times, alternating sides; the median run of each is kept
    (a shared 2-core machine is noisy) and every run's rate is reported under `runs_per_s`."""
    runs: dict[str, list[Any]] = {"ours_1": [], "ours_2": [], "pycqrs_1": []}
    for round_ in range(1, ROUNDS + 1):
        for workers in (1, 2):
            print(
                f"bench: relay -> {broker}: ours, {workers} worker(s), run {round_} ...", flush=True
            )
            runs[f"ours_{workers}"].append(
                _worker(
                    ours,
                    "ours",
                    "throughput",
                    opts,
                    broker=broker,
                    events=opts.events,
                    workers=workers,
                    **extra,
                )
            )
        print(f"bench: relay -> {broker}: python-cqrs, run {round_} ...", flush=True)
        runs["pycqrs_1"].append(
            _worker(
                pycqrs,
                "pycqrs",
                "throughput",
                opts,
                broker=broker,
                events=opts.pycqrs_events,
                **extra,
            )
        )
    results: dict[str, Any] = {}
    for key, reports in runs.items():
        ranked = sorted(reports, key=lambda report: report["events_per_s"])
        median = dict(ranked[(len(ranked) - 1) // 2])
        median["runs_per_s"] = [report["events_per_s"] for report in reports]
        results[key] = median
    return results


def run_relay(ours: Path, pycqrs: Path, opts: RelayOptions) -> dict[str, Any]:
    """Run every relay measurement; returns the raw reports and the table rows."""
    raw: dict[str, Any] = {"rabbitmq": _throughput(ours, pycqrs, opts, "rabbitmq")}
    if opts.kafka:
        from cqrs_kafka.testing import TansuBroker

        with TansuBroker() as tansu:
            raw["kafka"] = _throughput(ours, pycqrs, opts, "kafka", kafka=tansu.bootstrap_servers)
    print("bench: relay idle latency (ours) ...", flush=True)
    raw["latency"] = _worker(ours, "ours", "latency", opts, samples=opts.latency_samples)
    return {"options": opts.__dict__, "raw": raw, "rows": _rows(raw)}


def _rate_rows(raw: dict[str, Any], broker: str, title: str, targets: bool) -> list[Any]:
    theirs = raw["pycqrs_1"]["events_per_s"]
    rows = []
    for workers in (1, 2):
        ours = raw[f"ours_{workers}"]["events_per_s"]
        checks: list[tuple[str, bool]] = []
        if targets and workers == 1:
            checks = [
                (f">= {MIN_SPEEDUP:g}x python-cqrs", ours >= MIN_SPEEDUP * theirs),
                (f">= {MIN_RATE:,.0f}/s", ours >= MIN_RATE),
            ]
        rows.append(
            {
                "key": f"{broker}_{workers}",
                "workload": f"{title}, {workers} worker{'s' if workers > 1 else ''}, events/s",
                "pycqrs": theirs if workers == 1 else None,
                "ours": ours,
                "ratio": ours / theirs,
                "target": "; ".join(text for text, _ in checks) or "-",
                "pass": all(ok for _, ok in checks) if checks else None,
            }
        )
    return rows


def _rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    rows = _rate_rows(raw["rabbitmq"], "rabbitmq", "relay PostgreSQL -> RabbitMQ", True)
    if "kafka" in raw:
        rows += _rate_rows(raw["kafka"], "kafka", "relay PostgreSQL -> Kafka (tansu)", False)
    latency = raw["latency"]
    for name in ("median", "p95"):
        rows.append(
            {
                "key": f"latency_{name}",
                "workload": f"idle relay, commit -> consumer, {name} ms",
                "pycqrs": None,
                "ours": latency[f"{name}_ms"],
                "ratio": None,
                "target": "-",
                "pass": None,
            }
        )
    sql = raw["rabbitmq"]["ours_1"]["sql"]
    for key, title in (
        ("statements_per_batch", "SQL statements per relay batch"),
        ("round_trips_per_batch", "SQL round trips per batch (+ BEGIN, COMMIT)"),
    ):
        rows.append(
            {
                "key": key,
                "workload": title,
                "pycqrs": None,
                "ours": sql[key],
                "ratio": None,
                "target": "-",
                "pass": None,
            }
        )
    return rows


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def print_relay(result: dict[str, Any], table: Any) -> None:
    """Print the relay table with run.py's `_table` formatter."""
    opts, raw = result["options"], result["raw"]
    pycqrs_rabbit = raw["rabbitmq"]["pycqrs_1"]
    print(
        f"\nOutbox relay: {opts['events']} events for ours, {opts['pycqrs_events']} for "
        f"python-cqrs, batch {opts['batch_size']}, 1000 partition keys (ours); timed from the "
        "first claim until every row is confirmed by the broker and settled in PostgreSQL. "
        "2 workers = two OutboxRelays in one process, each with its own engine and broker "
        f"connection. python-cqrs: its EventProducer loop ({pycqrs_rabbit['batches']} batches); "
        f"it has no leases, so it runs one producer only. Each configuration runs {ROUNDS} "
        "times, alternating sides; the table shows the median run, the runs follow it."
    )
    lines = []
    for row in result["rows"]:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        lines.append(
            [
                row["workload"],
                _number(row["pycqrs"]),
                _number(row["ours"]),
                ratio,
                row["target"],
                _verdict(row["pass"]),
            ]
        )
    print(table(["relay", "python-cqrs", "ours", "ours/python-cqrs", "target", "result"], lines))
    for broker in ("rabbitmq", "kafka"):
        for key, measured in raw.get(broker, {}).items():
            runs = ", ".join(f"{rate:,.0f}" for rate in measured.get("runs_per_s", []))
            print(f"  runs, {broker} {key}: {runs} events/s")


def main() -> None:
    """Run the relay benchmark alone and print its table (results are not written)."""
    sys.path.insert(0, str(BENCH))
    from pycqrs_env import PYCQRS_VERSION, ensure_env
    from run import _table

    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    pycqrs = ensure_env(ROOT / ".bench" / f"pycqrs-{PYCQRS_VERSION}")
    result = run_relay(Path(sys.executable), pycqrs, options_from(args))
    print_relay(result, _table)


if __name__ == "__main__":
    main()
