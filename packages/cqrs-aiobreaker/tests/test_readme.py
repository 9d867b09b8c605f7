"""The README's Python examples run; the Redis one under a key namespace of its own."""

from __future__ import annotations

import asyncio
import re
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import aiobreaker  # type: ignore[import-untyped]
import pytest
import redis

from cqrs.testing._support.services import require_service

README = Path(__file__).resolve().parents[1] / "README.md"


async def _down() -> None:
    raise ConnectionError("down")


def test_readme_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    assert len(blocks) == 2
    url = require_service("redis").url
    keys = f"cqrs-test-{uuid.uuid4().hex[:10]}"
    module = types.ModuleType("readme")  # a real module: dataclass models look theirs up
    namespace: dict[str, Any] = module.__dict__
    sys.modules["readme"] = module
    client = redis.from_url(url)
    try:
        exec(compile(blocks[0], str(README), "exec"), namespace)
        assert capsys.readouterr().out.strip() == "{'primary': 2, 'fallback': 4}"

        code = blocks[1].replace("redis://localhost:6379", url)
        code = code.replace("namespace=name", f"namespace='{keys}:' + name")
        exec(compile(code, str(README), "exec"), namespace)
        with pytest.raises(ConnectionError):
            asyncio.run(namespace["breaker"].call("svc", _down))
        with pytest.raises(aiobreaker.CircuitBreakerError) as opened:
            asyncio.run(namespace["breaker"].call("svc", _down))
        assert isinstance(opened.value.__cause__, ConnectionError)
        assert client.get(f"{keys}:svc:aiobreaker:state") == b"OPEN"
    finally:
        del sys.modules["readme"]
        for key in client.scan_iter(f"{keys}*"):
            client.delete(key)
        client.close()
        if "client" in namespace:
            namespace["client"].close()
