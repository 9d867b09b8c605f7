"""The contract every `ConsumerTransport` passes under `ConsumerRunner`, as a class to subclass.

A subclass named `Test...` provides an async `source` fixture that prepares a fresh, empty
source (a topic and group, a queue) and yields nothing in particular, plus three methods::

    class TestMyTransport(ConsumerContract):
        @pytest.fixture
        async def source(self) -> AsyncIterator[None]:
            self.topic = f"contract-{uuid.uuid4().hex[:8]}"
            yield
            await delete(self.topic)

        async def make_transport(self):       # a new transport consuming self.topic
            return MyTransport(URL, [self.topic], group="contract")

        async def publish(self, messages):    # send, in order, to self.topic
            ...

        async def read_dead_letters(self, count, timeout):  # [(payload, reason), ...]
            ...

Every transport made in one test consumes the same source, so a second runner sees what the
first left unacknowledged. The tests are coroutines: run them with pytest-asyncio in auto
mode, or mark the subclass `@pytest.mark.asyncio`.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.consumers.runner import ConsumerRunner
from cqrs.errors import DestinationUnavailableError
from cqrs.events.bootstrap import bootstrap
from cqrs.events.event import NotificationEvent
from cqrs.events.event_handler import EventHandler
from cqrs.inbox.memory import MemoryInbox
from cqrs.requests.response import Response

__all__ = ["ConsumerContract", "ContractSeat"]


class ContractSeat(Response):
    """The payload of the events the contract publishes."""

    seat: str
    n: int


_SeatBooked = NotificationEvent[ContractSeat]
_Callback = Callable[[Any], Awaitable[None]]


class ConsumerContract(abc.ABC):
    """What a transport must do under the runner: each message handled once and acknowledged
    after handling, per-key order, dead letters with a reason, destination faults retried,
    a graceful stop, redelivery after a crash.

    Tune the class attributes for slow brokers (a Kafka group takes a second or two to join).
    """

    timeout: float = 30.0
    """Seconds a test waits for what it expects (never the measure of a verdict)."""

    topic: str = "contract"
    """The topic events are published to; a `source` fixture may set another per test."""

    @pytest.fixture
    @abc.abstractmethod
    async def source(self) -> AsyncIterator[None]:
        """Prepare an empty source of messages for one test, and remove it afterwards."""
        yield  # pragma: no cover

    @abc.abstractmethod
    async def make_transport(self) -> Any:
        """A new transport consuming the test's source (same topic and group each time)."""

    @abc.abstractmethod
    async def publish(self, messages: Sequence[Message]) -> None:
        """Send `messages`, in order, to the test's source; return once they are stored."""

    @abc.abstractmethod
    async def read_dead_letters(self, count: int, timeout: float) -> list[tuple[bytes, str]]:
        """The first `count` dead letters of the test's source: `(payload, reason)` pairs."""

    async def make_unreachable_transport(self) -> Any:
        """A transport whose broker cannot be reached, or `None` to skip that test."""
        return None

    # --- helpers -------------------------------------------------------------------------

    def event(self, n: int, key: str = "k", seat: str | None = None) -> Message:
        """The message of a `SeatBooked` event number `n` with partition key `key`."""
        return Message.from_event(
            _SeatBooked(
                event_name="SeatBooked",
                topic=self.topic,
                payload=ContractSeat(seat=seat if seat is not None else f"s{n}", n=n),
                partition_key=key,
            )
        )

    def dispatcher(self, callback: _Callback, **options: Any) -> MessageDispatcher:
        """A dispatcher whose `SeatBooked` handler awaits `callback(event)`."""

        class Handler(EventHandler[_SeatBooked]):
            async def handle(self, event: _SeatBooked) -> None:
                await callback(event)

        options.setdefault("backoff", ExponentialBackoff(base=0.001, cap=0.002))
        mediator = bootstrap(events_mapper=lambda m: m.bind(_SeatBooked, Handler))
        return MessageDispatcher(mediator, {"SeatBooked": _SeatBooked}, **options)

    async def runner(self, dispatcher: MessageDispatcher, **options: Any) -> ConsumerRunner[Any]:
        """A runner over a new transport (`options` go to `ConsumerRunner`)."""
        options.setdefault("retry_backoff", ExponentialBackoff(base=0.01, cap=0.1))
        return ConsumerRunner(await self.make_transport(), dispatcher, **options)

    @contextlib.asynccontextmanager
    async def running(self, runner: ConsumerRunner[Any]) -> AsyncIterator[asyncio.Task[None]]:
        """Run `runner` in a task; stop it and wait (bounded) for `run()` at the end."""
        task = asyncio.create_task(runner.run())
        try:
            async with asyncio.timeout(self.timeout):
                await runner.wait_started()
            yield task
        finally:
            runner.stop()
            async with asyncio.timeout(self.timeout):
                await asyncio.gather(task, return_exceptions=True)
        task.result()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds; `TimeoutError` after `timeout` seconds."""
        async with asyncio.timeout(self.timeout):
            while not condition():
                await asyncio.sleep(0.01)

    # --- the contract --------------------------------------------------------------------

    async def test_each_message_is_handled_once_and_acknowledged(self, source: None) -> None:
        await self.publish([self.event(n) for n in range(5)])
        seen: list[int] = []

        async def record(event: Any) -> None:
            seen.append(event.payload.n)

        first = await self.runner(self.dispatcher(record))
        async with self.running(first):
            await self.until(lambda: first.counters.acked == 5)
        assert seen == [0, 1, 2, 3, 4]
        assert (first.counters.handled, first.counters.dead_lettered) == (5, 0)

        await self.publish([self.event(5)])
        second = await self.runner(self.dispatcher(record))
        async with self.running(second):
            await self.until(lambda: second.counters.acked == 1)
        assert seen == [0, 1, 2, 3, 4, 5], "acknowledged messages were delivered again"

    async def test_messages_of_one_key_are_handled_in_order_one_at_a_time(
        self, source: None
    ) -> None:
        keys = [f"seat-{i}" for i in range(5)]
        await self.publish([self.event(n, key=keys[n % len(keys)]) for n in range(60)])
        seen: dict[str, list[int]] = collections.defaultdict(list)
        busy: collections.Counter[str] = collections.Counter()
        overlaps: list[str] = []

        async def record(event: Any) -> None:
            key = event.partition_key
            busy[key] += 1
            if busy[key] > 1:
                overlaps.append(key)
            await asyncio.sleep(random.uniform(0, 0.003))
            seen[key].append(event.payload.n)
            busy[key] -= 1

        runner = await self.runner(self.dispatcher(record), concurrency=4)
        async with self.running(runner):
            await self.until(lambda: runner.counters.acked == 60)
        assert overlaps == []
        assert dict(seen) == {key: list(range(i, 60, len(keys))) for i, key in enumerate(keys)}

    async def test_hostile_messages_are_dead_lettered_with_their_reason(self, source: None) -> None:
        good = self.event(1)
        hostile = {
            "payload is not valid application/json": Message(
                topic=self.topic,
                payload=b'{"event_name": "Seat',
                message_name="SeatBooked",
                key="k",
            ),
            "JSON nesting exceeds the limit of 100 levels": Message(
                topic=self.topic,
                payload=b"[" * 1000 + b"]" * 1000,
                message_name="SeatBooked",
                key="k",
            ),
            "exceeds the limit of 4096 bytes": self.event(2, seat="x" * 5000),
            "unknown event 'SeatSold'": Message(
                topic=self.topic,
                payload=json.dumps({"a": 1}).encode(),
                message_name="SeatSold",
                key="k",
            ),
            "invalid message headers": Message(
                topic=self.topic,
                payload=good.payload,
                message_name="SeatBooked",
                key="k",
                extra_headers={HEADER_NAMES["message_id"]: "not-a-uuid"},
            ),
        }
        await self.publish([*hostile.values(), good])
        seen: list[int] = []

        async def record(event: Any) -> None:
            seen.append(event.payload.n)

        runner = await self.runner(self.dispatcher(record, max_message_bytes=4096))
        async with self.running(runner):
            await self.until(lambda: runner.counters.acked == len(hostile) + 1)
        assert seen == [1]
        assert runner.counters.dead_lettered == len(hostile)
        letters = dict(await self.read_dead_letters(len(hostile), self.timeout))
        for reason, sent in hostile.items():
            assert reason in letters[sent.payload], (reason, letters[sent.payload])

    async def test_a_failing_handler_is_dead_lettered_after_its_attempts(
        self, source: None
    ) -> None:
        await self.publish([self.event(1), self.event(2)])
        calls: collections.Counter[int] = collections.Counter()

        async def fail_one(event: Any) -> None:
            calls[event.payload.n] += 1
            if event.payload.n == 1:
                raise LookupError("seat 1 does not exist")

        runner = await self.runner(self.dispatcher(fail_one, handler_attempts=3))
        async with self.running(runner):
            await self.until(lambda: runner.counters.acked == 2)
        assert calls == {1: 3, 2: 1}
        [(_, reason)] = await self.read_dead_letters(1, self.timeout)
        assert "handler failed after 3 attempt(s): LookupError: seat 1 does not exist" in reason

    async def test_a_destination_fault_is_retried_never_dead_lettered(self, source: None) -> None:
        await self.publish([self.event(1), self.event(2)])
        refusals = 0
        seen: list[int] = []

        async def flaky_service(event: Any) -> None:
            nonlocal refusals
            if refusals < 5:
                refusals += 1
                raise ConnectionRefusedError(111, "seat service refused the connection")
            seen.append(event.payload.n)

        dispatcher = self.dispatcher(
            flaky_service, handler_attempts=1, destination_backoff=ExponentialBackoff(base=0.001)
        )
        runner = await self.runner(dispatcher)
        async with self.running(runner):
            await self.until(lambda: runner.counters.acked == 2)
        assert seen == [1, 2]
        assert (runner.counters.handled, runner.counters.dead_lettered) == (2, 0)

    async def test_stop_finishes_the_message_in_hand(self, source: None) -> None:
        await self.publish([self.event(1), self.event(2)])
        entered, release = asyncio.Event(), asyncio.Event()
        seen: list[int] = []

        async def slow(event: Any) -> None:
            entered.set()
            await release.wait()
            seen.append(event.payload.n)

        runner = await self.runner(self.dispatcher(slow))
        task = asyncio.create_task(runner.run())
        async with asyncio.timeout(self.timeout):
            await entered.wait()
        runner.stop()
        for _ in range(50):
            await asyncio.sleep(0)
        assert not task.done(), "run() returned while a message was in hand"
        release.set()
        async with asyncio.timeout(self.timeout):
            await task
        assert seen == [1]
        assert runner.counters.acked == 1

        again = await self.runner(self.dispatcher(slow))
        async with self.running(again):
            await self.until(lambda: again.counters.acked == 1)
        assert seen == [1, 2], "the finished message was delivered again, or the next lost"

    async def test_a_crash_before_the_ack_delivers_the_message_again(self, source: None) -> None:
        await self.publish([self.event(1)])
        entered, never = asyncio.Event(), asyncio.Event()

        async def hang(event: Any) -> None:
            entered.set()
            await never.wait()

        crashed = await self.runner(self.dispatcher(hang))
        task = asyncio.create_task(crashed.run())
        async with asyncio.timeout(self.timeout):
            await entered.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(self.timeout):
                await task
        assert crashed.counters.acked == 0

        seen: list[int] = []

        async def record(event: Any) -> None:
            seen.append(event.payload.n)

        successor = await self.runner(self.dispatcher(record))
        async with self.running(successor):
            await self.until(lambda: successor.counters.acked == 1)
        assert seen == [1]

    async def test_stop_during_an_outage_leaves_the_message_for_redelivery(
        self, source: None
    ) -> None:
        await self.publish([self.event(1)])
        attempts = 0

        async def down(event: Any) -> None:
            nonlocal attempts
            attempts += 1
            raise ConnectionResetError("database connection lost")

        dispatcher = self.dispatcher(down, destination_backoff=ExponentialBackoff(base=600))
        runner = await self.runner(dispatcher, shutdown_timeout=600)
        async with self.running(runner):
            await self.until(lambda: attempts >= 1)
        assert (runner.counters.acked, runner.counters.dead_lettered) == (0, 0)
        assert runner.counters.left == 1

        seen: list[int] = []

        async def record(event: Any) -> None:
            seen.append(event.payload.n)

        again = await self.runner(self.dispatcher(record))
        async with self.running(again):
            await self.until(lambda: again.counters.acked == 1)
        assert seen == [1]

    async def test_the_inbox_turns_a_repeated_event_into_a_duplicate(self, source: None) -> None:
        twice = self.event(1)
        await self.publish([twice, twice, self.event(2)])
        seen: list[int] = []

        async def record(event: Any) -> None:
            seen.append(event.payload.n)

        dispatcher = self.dispatcher(record, inbox=MemoryInbox(), consumer_name="contract")
        runner = await self.runner(dispatcher)
        async with self.running(runner):
            await self.until(lambda: runner.counters.acked == 3)
        assert seen == [1, 2]
        assert (runner.counters.handled, runner.counters.duplicates) == (2, 1)

    async def test_an_unreachable_broker_fails_the_start_in_one_line(self) -> None:
        transport = await self.make_unreachable_transport()
        if transport is None:
            pytest.skip("this transport has no unreachable variant")
        seen: list[Any] = []

        async def record(event: Any) -> None:
            seen.append(event)

        runner = ConsumerRunner(transport, self.dispatcher(record))
        task = asyncio.create_task(runner.run())
        async with asyncio.timeout(self.timeout):
            with pytest.raises(DestinationUnavailableError) as raised:
                await runner.wait_started()
            with pytest.raises(DestinationUnavailableError):
                await task
        assert "\n" not in str(raised.value)
        assert seen == []
