"""The outbox's guarantees under chaos, in CI: bounded to ~1500 events and ~15 s of chaos.

Relay processes on PostgreSQL are SIGKILLed and restarted repeatedly while events are written,
and RabbitMQ is cut off (through a proxy) for 6 s, longer than the relays' whole retry budget
(3 attempts): since an outage charges no attempt, nothing may be dead-lettered. Every event
must be delivered, each key's events must be applied in order, and the consumer behind the
inbox must apply each effect once; duplicate deliveries are allowed and counted. The scenario
runs as its own process, exactly as the bench session runs its larger version.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cqrs.testing._support.services import require_service

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.timeout(300)]

SCENARIO = Path(__file__).with_name("scenario.py")


def test_relays_killed_and_broker_cut_lose_nothing_and_keep_order() -> None:
    require_service("postgres")
    require_service("rabbitmq")
    run = subprocess.run(
        [sys.executable, str(SCENARIO), "--events", "1500", "--relays", "3", "--seconds", "15"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.stdout, run.stderr[-4000:]
    report = json.loads(run.stdout)
    print(report)
    assert report["written"] == 1500
    assert report["kills"] >= 5, "the chaos loop must really kill relays"
    assert report["outages"] == 1
    assert report["missing"] == 0, "every written event is delivered and applied"
    assert report["order_violations"] == 0, "each key's events are applied in write order"
    assert report["effect_rows"] == report["written"], "each effect is applied exactly once"
    assert report["applied"] == report["written"]
    assert report["dead_letters"] == 0
    assert report["outbox_dead_letters"] == 0, "a broker outage longer than the retry budget"
    assert run.returncode == 0, run.stderr[-4000:]
