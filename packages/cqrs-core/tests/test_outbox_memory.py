"""The in-memory outbox passes the outbox contract; `cqrs.outbox` is the concept's one home."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import cqrs
import cqrs.outbox
import cqrs.outbox.contract
from cqrs.outbox.contract import OutboxRepositoryContract
from cqrs.outbox.memory import MemoryOutboxedEventRepository


class TestMemoryOutbox(OutboxRepositoryContract):
    @pytest.fixture
    async def outbox(self) -> MemoryOutboxedEventRepository:
        return MemoryOutboxedEventRepository()


FORMER_PATHS = {
    "cqrs.protocols.outbox": (
        "OutboxStats",
        "OutboxStatus",
        "OutboxedEvent",
        "OutboxedEventRepository",
    ),
    "cqrs.memory.outbox": ("MemoryOutboxSession", "MemoryOutboxedEventRepository"),
    "cqrs.testing.outbox": ("OutboxPayload", "OutboxRepositoryContract"),
    "cqrs.memory": ("MemoryOutboxSession", "MemoryOutboxedEventRepository"),
    "cqrs.testing": ("OutboxRepositoryContract",),
    "cqrs": (
        "EventProducer",
        "MemoryOutboxedEventRepository",
        "OutboxRelay",
        "OutboxStatus",
        "OutboxedEvent",
        "OutboxedEventRepository",
    ),
}


def _home(name: str) -> object:
    contract = name in ("OutboxPayload", "OutboxRepositoryContract")
    return getattr(cqrs.outbox.contract if contract else cqrs.outbox, name)


@pytest.mark.parametrize(("module_name", "names"), FORMER_PATHS.items(), ids=FORMER_PATHS.keys())
def test_former_paths_name_the_objects_of_cqrs_outbox(
    module_name: str, names: tuple[str, ...]
) -> None:
    module = importlib.import_module(module_name)
    for name in names:
        assert getattr(module, name) is _home(name), f"{module_name}.{name}"


def test_the_row_codec_is_public() -> None:
    from cqrs.outbox.codec import RowCodec

    assert cqrs.outbox.RowCodec is RowCodec
    assert "RowCodec" in cqrs.outbox.__all__


@pytest.mark.parametrize(
    "module_name", ["cqrs.outbox", "cqrs.outbox.protocol", "cqrs.outbox.backoff"]
)
def test_the_protocol_and_backoff_load_without_the_relay(module_name: str) -> None:
    """Consumers import the backoff policy and adapters the protocol: neither needs asyncio."""
    code = f"import sys, {module_name}; print(*sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    loaded = set(done.stdout.split())
    assert not loaded & {"asyncio", "cqrs.outbox.relay", "cqrs.outbox.producer"}
