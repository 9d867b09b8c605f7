"""`ConsumerRunner` over the in-memory transport: the consumer contract, and the faults only
an in-memory transport can inject on demand (refused dead letters, failing receives, acks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.consumers import ConsumerRunner, MemoryConsumerTransport
from cqrs.consumers.contract import ConsumerContract
from cqrs.exceptions import DestinationUnavailableError, MessageRejectedError


class TestMemoryConsumerTransport(ConsumerContract):
    timeout = 10.0

    @pytest.fixture
    async def source(self) -> None:
        self.transport = MemoryConsumerTransport()

    async def make_transport(self) -> MemoryConsumerTransport:
        return self.transport

    async def publish(self, messages: Sequence[Message]) -> None:
        self.transport.publish(*messages)

    async def read_dead_letters(self, count: int, timeout: float) -> list[tuple[bytes, str]]:
        return [(record.payload, reason) for record, reason in self.transport.dead_letters[:count]]

    async def make_unreachable_transport(self) -> MemoryConsumerTransport:
        transport = MemoryConsumerTransport()
        transport.connect_error = DestinationUnavailableError("cannot connect to memory://down")
        return transport


class _Kit(TestMemoryConsumerTransport):
    """The contract's helpers, for the tests below."""


@pytest.fixture
async def kit() -> _Kit:
    kit = _Kit()
    kit.transport = MemoryConsumerTransport()
    return kit


def _record(seen: list[int]) -> Any:
    async def record(event: Any) -> None:
        seen.append(event.payload.n)

    return record


async def test_a_dead_letter_refused_as_too_large_is_sent_truncated(kit: _Kit) -> None:
    kit.transport.publish(Message(topic="t", payload=b"{", message_name="SeatBooked"))
    kit.transport.dead_letter_errors.append(MessageRejectedError("record too large"))
    runner = await kit.runner(kit.dispatcher(_record([])))
    async with kit.running(runner):
        await kit.until(lambda: runner.counters.acked == 1)
    assert runner.counters.truncated_dead_letters == 1
    assert runner.counters.dead_letter_failures == 1
    [(_, reason)] = kit.transport.dead_letters
    assert "not valid application/json" in reason


async def test_a_dead_letter_that_cannot_be_stored_holds_its_key_until_it_can(
    kit: _Kit, caplog: pytest.LogCaptureFixture
) -> None:
    kit.transport.publish(
        Message(topic="t", payload=b"{", message_name="SeatBooked", key="k"), kit.event(1)
    )
    kit.transport.dead_letter_errors.extend(ConnectionError("down") for _ in range(4))
    seen: list[int] = []
    runner = await kit.runner(kit.dispatcher(_record(seen)))
    with caplog.at_level(logging.WARNING, logger="cqrs.consumers"):
        async with kit.running(runner):
            await kit.until(lambda: runner.counters.acked == 2)
    assert seen == [1]
    assert (runner.counters.dead_letter_failures, runner.counters.dead_lettered) == (4, 1)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("could not dead-letter" in line for line in lines) == 1, "not one per retry"
    assert any("after 4 failed attempt(s)" in r.getMessage() for r in caplog.records)


async def test_stop_lets_go_of_a_dead_letter_that_cannot_be_stored(kit: _Kit) -> None:
    kit.transport.publish(Message(topic="t", payload=b"{", message_name="SeatBooked"))
    kit.transport.dead_letter_errors.extend(ConnectionError("down") for _ in range(1000))
    runner = await kit.runner(kit.dispatcher(_record([])), retry_backoff=ExponentialBackoff(60))
    async with kit.running(runner):
        await kit.until(lambda: runner.counters.dead_letter_failures >= 1)
    assert (runner.counters.acked, runner.counters.left) == (0, 1)
    assert kit.transport.pending == 1, "left unacknowledged, to be delivered again"


async def test_a_failing_receive_is_retried_and_logged_once(
    kit: _Kit, caplog: pytest.LogCaptureFixture
) -> None:
    kit.transport.publish(kit.event(1))
    kit.transport.receive_errors.extend(TimeoutError("no answer") for _ in range(3))
    seen: list[int] = []
    runner = await kit.runner(kit.dispatcher(_record(seen)))
    with caplog.at_level(logging.WARNING, logger="cqrs.consumers"):
        async with kit.running(runner):
            await kit.until(lambda: seen == [1])
    lines = [r.getMessage() for r in caplog.records]
    assert sum("cannot receive" in line for line in lines) == 1
    assert sum("receiving again after 3 failed attempt(s)" in line for line in lines) == 1
    assert runner.counters.retried == 3


async def test_a_receive_fault_that_is_not_the_destinations_ends_run(kit: _Kit) -> None:
    kit.transport.receive_errors.append(RuntimeError("a bug in the transport"))
    runner = await kit.runner(kit.dispatcher(_record([])))
    with pytest.raises(RuntimeError, match="a bug in the transport"):
        async with asyncio.timeout(10):
            await runner.run()
    assert not kit.transport.connected


async def test_a_failed_ack_is_counted_and_the_message_comes_again(kit: _Kit) -> None:
    kit.transport.publish(kit.event(1))
    kit.transport.ack_errors.append(ConnectionError("channel closed"))
    seen: list[int] = []
    runner = await kit.runner(kit.dispatcher(_record(seen)))
    async with kit.running(runner):
        await kit.until(lambda: runner.counters.ack_failures == 1)
    assert kit.transport.pending == 1
    again = await kit.runner(kit.dispatcher(_record(seen)))
    async with kit.running(again):
        await kit.until(lambda: again.counters.acked == 1)
    assert seen == [1, 1]


async def test_withdraw_skips_what_was_received_and_ends_waits(kit: _Kit) -> None:
    kit.transport.publish(*(kit.event(n) for n in range(3)))
    entered = asyncio.Event()
    seen: list[int] = []

    async def down_on_first(event: Any) -> None:
        entered.set()
        if event.payload.n == 0:
            raise ConnectionError("down")
        seen.append(event.payload.n)

    dispatcher = kit.dispatcher(down_on_first, destination_backoff=ExponentialBackoff(600))
    runner = await kit.runner(dispatcher)
    async with kit.running(runner):
        async with asyncio.timeout(10):
            await entered.wait()
        runner.withdraw()  # as a transport does when it loses its partitions or channel
        assert await runner.finish_in_hand()
        assert runner.in_hand == 0
    assert seen == []
    assert runner.counters.left == 3


async def test_a_runner_runs_once_and_checks_its_arguments(kit: _Kit) -> None:
    runner = await kit.runner(kit.dispatcher(_record([])))
    async with kit.running(runner):
        pass
    with pytest.raises(RuntimeError, match="runs once"):
        await runner.run()
    with pytest.raises(ValueError, match="concurrency"):
        ConsumerRunner(kit.transport, kit.dispatcher(_record([])), concurrency=0)


async def test_wait_started_names_the_cause_of_an_early_end(kit: _Kit) -> None:
    kit.transport.connect_error = PermissionError("not allowed")
    runner = await kit.runner(kit.dispatcher(_record([])))
    task = asyncio.create_task(runner.run())
    with pytest.raises(RuntimeError, match="ended before it started consuming: PermissionError"):
        await runner.wait_started()
    with pytest.raises(PermissionError):
        await task


def test_a_dead_letter_too_large_keeps_its_headers_unless_they_alone_are_too_large() -> None:
    from cqrs.consumers.dead_letter import DEAD_LETTER_PREVIEW_BYTES, truncation

    assert truncation(1_572_864, 300) == ("value=1572864", False)
    assert truncation(1_572_864, DEAD_LETTER_PREVIEW_BYTES) == ("value=1572864", False)
    assert truncation(20, DEAD_LETTER_PREVIEW_BYTES + 1) == (
        f"value=20,headers={DEAD_LETTER_PREVIEW_BYTES + 1}",
        True,
    )
