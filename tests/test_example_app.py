"""The example application runs on embedded defaults and does what it prints; its flows are
also tested with the application test kit (`cqrs_app`), as an application would test itself."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import cqrs
from cqrs.consumer import Verdict
from cqrs.saga.models import SagaStatus
from cqrs.testing import AppHarness
from cqrs.testing.pytest_plugin import AppFactory

APP = Path(__file__).resolve().parents[1] / "examples" / "app.py"


@pytest.fixture(scope="module")
def app_module() -> Iterator[ModuleType]:
    """examples/app.py imported as a module (registered so its string annotations resolve)."""
    spec = importlib.util.spec_from_file_location("example_app", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_runs_as_a_script_and_reports_each_step() -> None:
    """`python examples/app.py` exits 0 and prints the whole flow in order."""
    done = subprocess.run(
        [sys.executable, str(APP)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "create meeting m-1",
        "assign room: Board room",
        "join ada",
        "  read model: ada added to m-1",
        "join grace",
        "  read model: grace added to m-1",
        "join linus",
        "  read model: linus added to m-1",
        "send invitations",
        "  invitation 1/2: ops@example.com",
        "  invitation 2/2: hr@example.com",
        "query: Quarterly planning in Board room, attendees ['ada', 'grace', 'linus']",
        "close meeting m-1",
        "  broker: MeetingClosed on 'meetings' (key m-1)",
        "  consumer: summary of 'Quarterly planning' sent to ada, grace, linus",
        "archive meeting m-1",
        "  saga: recording stored at https://archive.example.com/m-1.mp4",
        "  saga: 3 attendees notified",
        "done: 1 message published, 1 summary sent",
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("expected", "room"),
    [
        (2, "Huddle room"),
        (4, "Huddle room"),
        (5, "Board room"),
        (20, "Board room"),
        (21, "Auditorium"),
    ],
)
async def test_room_chain_picks_the_first_room_that_fits(
    app_module: ModuleType, expected: int, room: str
) -> None:
    app = app_module.build_app()
    await app.mediator.send(app_module.CreateMeeting(meeting_id="m", title="T", expected=expected))
    result = await app.mediator.send(app_module.AssignRoom(meeting_id="m", expected=expected))
    assert result.room == room
    assert app.container.get(app_module.MeetingRepository).get("m").room == room


async def test_closed_meeting_is_published_with_its_key_and_attendees(
    app_module: ModuleType,
) -> None:
    app = app_module.build_app()
    await app.mediator.send(app_module.CreateMeeting(meeting_id="m", title="T", expected=3))
    await app.mediator.send(app_module.JoinMeeting(meeting_id="m", user_id="ada"))
    await app.mediator.send(app_module.CloseMeeting(meeting_id="m"))
    [message] = app.broker.messages[app_module.MEETINGS_TOPIC]
    assert message.key == "m"
    assert message.headers()["event-type"] == "MeetingClosed"
    with pytest.raises(ValueError, match="closed"):
        await app.mediator.send(app_module.JoinMeeting(meeting_id="m", user_id="late"))
    view = await app.mediator.send(app_module.GetMeeting(meeting_id="m"))
    assert view.attendees == ["ada"]
    assert view.closed


def _harness(app_module: ModuleType, cqrs_app: AppFactory) -> AppHarness:
    """The example's mappers on the kit's adapters, with its singletons in a container."""
    container = cqrs.BuiltinContainer()
    for singleton in (app_module.MeetingRepository, app_module.MeetingReadModel, app_module.Outbox):
        container.register(singleton, lifetime="singleton")
    return cqrs_app(
        di_container=container,
        commands_mapper=app_module.commands_mapper,
        queries_mapper=app_module.queries_mapper,
        domain_events_mapper=app_module.domain_events_mapper,
        events_mapper=app_module.consumed_events_mapper,
        sagas_mapper=lambda m: m.bind(app_module.ArchiveContext, app_module.ArchiveMeeting),
        event_types={"MeetingClosed": app_module.MeetingClosed},
    )


async def test_kit_closing_publishes_once_and_a_redelivered_close_sends_one_summary(
    app_module: ModuleType, cqrs_app: AppFactory
) -> None:
    """With the test kit: exactly one MeetingClosed keyed by the meeting, consumed once even
    when the broker delivers it twice."""
    async with _harness(app_module, cqrs_app) as app:
        await app.send(app_module.CreateMeeting(meeting_id="m-7", title="Retro", expected=3))
        for user in ("ada", "grace"):
            await app.send(app_module.JoinMeeting(meeting_id="m-7", user_id=user))
        app.published.assert_published([])
        await app.send(app_module.CloseMeeting(meeting_id="m-7"))
        app.published.assert_published([(app_module.MEETINGS_TOPIC, "MeetingClosed", "m-7")])
        [message] = app.published.messages
        outcomes = await app.deliver(message, times=2)
        assert [o.verdict for o in outcomes] == [Verdict.HANDLED, Verdict.DUPLICATE]
        assert app.container.get(app_module.Outbox).summaries == [
            "summary of 'Retro' sent to ada, grace"
        ]


async def test_kit_archive_saga_compensates_the_recording_when_notifying_fails(
    app_module: ModuleType, cqrs_app: AppFactory
) -> None:
    """With the test kit: the archive saga driven step by step; a failure injected into
    NotifyAttendees deletes the stored recording (compensation) and the saga ends compensated."""
    async with _harness(app_module, cqrs_app) as app:
        await app.send(app_module.CreateMeeting(meeting_id="m-8", title="Demo", expected=2))
        app.step_failures.fail(app_module.NotifyAttendees, ConnectionError("mail server down"))
        run = app.saga(app_module.ArchiveContext(meeting_id="m-8"))
        await run.step()
        assert run.context.recording_url == "https://archive.example.com/m-8.mp4"
        with pytest.raises(ConnectionError, match="mail server down"):
            await run.step()
        assert await run.status() is SagaStatus.COMPENSATED
        assert ("StoreRecording", "compensate", "compensated") in await run.history()
