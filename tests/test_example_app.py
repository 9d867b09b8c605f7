"""The example application runs on embedded defaults and does what it prints."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

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
