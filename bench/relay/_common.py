"""What both sides' relay workers share: arguments, the event payload, unique names, JSON output.

Standard library only: the python-cqrs worker imports it too, from its own venv.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import uuid
from typing import Any

__all__ = ["KEYS", "emit", "parse", "payload", "quantile", "unique"]

KEYS = 1000
"""Distinct partition keys of the seeded events (ours orders per key; python-cqrs has no keys)."""


def payload(i: int) -> dict[str, Any]:
    """The body of seeded event `i`: a small order, about 150 bytes of JSON."""
    return {
        "order_id": f"order-{i % KEYS}",
        "line": i,
        "amount": 1250 + i % 97,
        "currency": "EUR",
        "items": [{"sku": f"sku-{i % 31}", "qty": 1 + i % 3}],
    }


def unique(prefix: str) -> str:
    """A fresh identifier for tables, queues and topics, so runs never see each other's data."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def parse() -> argparse.Namespace:
    """The arguments every relay worker takes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("throughput", "latency"))
    parser.add_argument("--broker", choices=("rabbitmq", "kafka"), default="rabbitmq")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--database", required=True, help="postgresql+asyncpg:// URL")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--kafka", default="", help="host:port of the Kafka broker")
    parser.add_argument("--samples", type=int, default=50, help="latency: events to time")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many s")
    return parser.parse_args()


def quantile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, interpolated."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def emit(report: dict[str, Any]) -> None:
    """Print the worker's result as one JSON document on stdout."""
    json.dump(report, sys.stdout)
    sys.stdout.flush()
