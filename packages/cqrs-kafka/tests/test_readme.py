"""The README's Python examples run, against tansu instead of `localhost:9092`."""

from __future__ import annotations

import asyncio
import re
import sys
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cqrs.mediators.request import RequestMediator
from cqrs_kafka.testing import TansuBroker

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run_and_publish(
    tansu: TansuBroker, read_records: Callable[..., Awaitable[list[Any]]]
) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    assert len(blocks) >= 2
    module = types.ModuleType("readme")  # a real module: dataclass models look theirs up
    namespace: dict[str, Any] = module.__dict__
    sys.modules["readme"] = module
    try:
        for block in blocks:
            code = block.replace("localhost:9092", tansu.bootstrap_servers)
            exec(compile(code, str(README), "exec"), namespace)
    finally:
        del sys.modules["readme"]

    (record,) = asyncio.run(read_records(tansu.bootstrap_servers, "orders", 1))
    assert (record.key, record.value) == (b"o-1", b'{"order_id": "o-1"}')
    assert isinstance(namespace["mediator"], RequestMediator)
