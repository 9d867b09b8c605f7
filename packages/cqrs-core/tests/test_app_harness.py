"""The application test kit: harness, publish recorder, consumer delivery, saga driving, clock."""

from __future__ import annotations

import dataclasses
import datetime
from typing import ClassVar

import pytest

import cqrs
from cqrs.consumer import Verdict
from cqrs.errors import SagaCompensationError
from cqrs.saga import Saga, SagaContext, SagaStepHandler, SagaStepResult
from cqrs.saga.models import SagaStatus
from cqrs.testing import (
    AdapterUrls,
    AppHarness,
    ManualClock,
    Published,
    PublishRecorder,
    StepFailures,
)

pytest_plugins = ["pytester"]


class Booked(cqrs.Response):
    seat: str


BookedEvent = cqrs.NotificationEvent[Booked]


class BookSeat(cqrs.Request):
    seat: str


class BookSeatHandler(cqrs.RequestHandler[BookSeat, None]):
    """Writes its event to the outbox in the same transaction as its (absent) business change."""

    def __init__(self, outbox: cqrs.OutboxedEventRepository) -> None:
        self.outbox = outbox

    async def handle(self, request: BookSeat) -> None:
        async with self.outbox as session:
            event = BookedEvent(
                event_name="Booked", topic="seats", payload=Booked(seat=request.seat)
            )
            self.outbox.add(session, dataclasses.replace(event, partition_key=request.seat))
            await self.outbox.commit(session)


class AnnounceSeat(cqrs.Request):
    seat: str


class AnnounceSeatHandler(cqrs.RequestHandler[AnnounceSeat, None]):
    """Publishes straight to the broker (no outbox)."""

    async def handle(self, request: AnnounceSeat) -> None:
        self._events = [
            BookedEvent(
                event_name="Announced",
                topic="announcements",
                payload=Booked(seat=request.seat),
                partition_key=request.seat,
            )
        ]


class CountBooking(cqrs.EventHandler[BookedEvent]):
    counted: ClassVar[list[str]] = []

    async def handle(self, event: BookedEvent) -> None:
        CountBooking.counted.append(event.payload.seat)


def _app(**options: object) -> AppHarness:
    CountBooking.counted = []
    return AppHarness(
        commands_mapper=lambda m: (
            m.bind(BookSeat, BookSeatHandler),
            m.bind(AnnounceSeat, AnnounceSeatHandler),
        ),
        events_mapper=lambda m: m.bind(BookedEvent, CountBooking),
        event_types={"Booked": BookedEvent},
        **options,  # type: ignore[arg-type]
    )


async def test_records_outbox_and_direct_publishes_with_topics_and_keys() -> None:
    async with _app() as app:
        await app.send(BookSeat(seat="1A"))
        await app.send(AnnounceSeat(seat="2B"))
        app.published.assert_published([("announcements", "Announced", "2B")])
        assert await app.relay() == 1
        app.published.assert_published(
            [Published("announcements", "Announced", "2B"), ("seats", "Booked", "1A")]
        )
        assert app.published.payloads("seats")[0]["payload"] == {"seat": "1A"}


def test_assert_published_shows_both_lists_when_they_differ() -> None:
    recorder = PublishRecorder()
    with pytest.raises(AssertionError) as raised:
        recorder.assert_published([("seats", "Booked", "1A")])
    assert str(raised.value) == "published [], expected [('seats', 'Booked', '1A')]"


async def test_redelivery_is_a_duplicate_for_the_inbox() -> None:
    async with _app() as app:
        await app.send(BookSeat(seat="3C"))
        await app.relay()
        [outcome] = await app.deliver_published("seats")
        assert outcome.verdict is Verdict.HANDLED
        again = await app.deliver(app.published.messages[0], times=2)
        assert [o.verdict for o in again] == [Verdict.DUPLICATE, Verdict.DUPLICATE]
        assert CountBooking.counted == ["3C"]


async def test_delivers_an_event_object_rebuilt_from_headers() -> None:
    app = _app()
    event = BookedEvent(event_name="Booked", topic="seats", payload=Booked(seat="4D"))
    [outcome] = await app.deliver(event)
    assert outcome.verdict is Verdict.HANDLED
    assert CountBooking.counted == ["4D"]


async def test_a_malformed_delivery_is_dead_lettered_with_its_reason() -> None:
    app = _app()
    bad = cqrs.Message(topic="seats", payload=b'{"payload": {}}', message_name="Booked")
    [outcome] = await app.deliver(bad)
    assert outcome.verdict is Verdict.DEAD_LETTER
    assert outcome.reason is not None
    assert outcome.reason.startswith("invalid Booked")


class _RefusingOnce:
    """A broker refusing its first message as a fault of that message, then accepting."""

    def __init__(self) -> None:
        self.refused = 0
        self.sent: list[cqrs.Message] = []

    async def send_message(self, message: cqrs.Message) -> None:
        if not self.refused:
            self.refused += 1
            raise ValueError("refused once")
        self.sent.append(message)


async def test_a_retry_comes_due_only_when_the_clock_passes_it() -> None:
    clock = ManualClock()
    app = _app(clock=clock)
    app.broker = _RefusingOnce()  # type: ignore[assignment]
    await app.send(BookSeat(seat="5E"))
    assert await app.relay() == 1
    assert app.published.messages == []
    assert await app.relay() == 0
    clock.advance(3600)
    assert await app.relay() == 1
    app.published.assert_published([("seats", "Booked", "5E")])


def test_manual_clock_moves_only_forward_and_only_when_told() -> None:
    start = datetime.datetime(2030, 5, 1, 12, tzinfo=datetime.UTC)
    clock = ManualClock(start)
    assert clock() == start == clock()
    assert clock.advance(1.5) == start + datetime.timedelta(seconds=1.5)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime.datetime(2030, 5, 1))


class Trip(SagaContext):
    booked: list[str] = dataclasses.field(default_factory=list)


class _Step(SagaStepHandler[Trip, None]):
    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        context.booked.append(type(self).__name__)
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        context.booked.remove(type(self).__name__)


class Flight(_Step):
    pass


class Hotel(_Step):
    pass


class Car(_Step):
    pass


class TripSaga(Saga[Trip]):
    steps = (Flight, Hotel, Car)


async def test_saga_runs_step_by_step_and_compensates_an_injected_failure() -> None:
    app = AppHarness(sagas_mapper=lambda m: m.bind(Trip, TripSaga))
    app.step_failures.fail(Car, ConnectionError("no cars"))
    trip = Trip()
    run = app.saga(trip)
    assert (await run.step()) is not None
    assert await run.status() is SagaStatus.RUNNING
    assert trip.booked == ["Flight"]
    await run.step()
    with pytest.raises(ConnectionError, match="no cars"):
        await run.step()
    assert await run.status() is SagaStatus.COMPENSATED
    assert trip.booked == []
    assert await run.history() == [
        ("Flight", "act", "completed"),
        ("Hotel", "act", "completed"),
        ("Car", "act", "failed"),
        ("Hotel", "compensate", "compensated"),
        ("Flight", "compensate", "compensated"),
    ]
    assert await run.step() is None


async def test_a_failing_compensation_leaves_the_saga_failed() -> None:
    app = AppHarness(sagas_mapper=lambda m: m.bind(Trip, TripSaga))
    app.step_failures.fail(Hotel)
    app.step_failures.fail(Flight, action="compensate", times=10)
    with pytest.raises(SagaCompensationError):
        await app.saga(Trip()).run_to_end()
    assert ("Flight", "compensate") in app.step_failures.calls


async def test_a_stopped_saga_is_resumed_by_recovery_without_repeating_steps() -> None:
    app = AppHarness(sagas_mapper=lambda m: m.bind(Trip, TripSaga))
    run = app.saga(Trip())
    await run.step()
    await run.stop()
    assert await run.status() is SagaStatus.RUNNING
    await app.sagas.recover(run.saga_id)
    assert await run.status() is SagaStatus.COMPLETED
    assert [name for name, action, _ in await run.history() if action == "act"] == [
        "Flight",
        "Hotel",
        "Car",
    ]


def test_step_failures_accept_names() -> None:
    failures = StepFailures()
    failures.fail("Hotel", times=2)
    assert len(failures._planned[("Hotel", "act")]) == 2


def test_urls_come_from_the_environment() -> None:
    urls = AdapterUrls.from_env({"CQRS_KIT_BROKER": "amqp://mq/", "CQRS_KIT_SAGA_STORAGE": ""})
    assert urls == AdapterUrls(broker="amqp://mq/")
    assert not urls.in_memory
    assert AdapterUrls().in_memory


def test_handlers_get_the_harness_adapters_from_the_container() -> None:
    app = _app()
    assert app.container.get(cqrs.OutboxedEventRepository) is app.outbox


PLUGIN_USER = """
async def test_fixtures(cqrs_app, cqrs_urls, cqrs_clock):
    app = cqrs_app()
    assert app.urls is cqrs_urls
    assert app.clock is cqrs_clock
    assert cqrs_urls.broker == "memory://"
    assert cqrs_urls.outbox == "memory://from-option"
    assert cqrs_urls.saga_storage == "memory://from-env"
"""


def test_the_plugin_loads_by_itself_and_reads_options_over_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No conftest line: the pytest11 entry point registers the fixtures; an option wins over
    its `CQRS_KIT_*` variable."""
    monkeypatch.setenv("CQRS_KIT_SAGA_STORAGE", "memory://from-env")
    monkeypatch.setenv("CQRS_KIT_OUTBOX", "memory://from-env")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_user=PLUGIN_USER)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--cqrs-outbox", "memory://from-option"
    )
    result.assert_outcomes(passed=1)
