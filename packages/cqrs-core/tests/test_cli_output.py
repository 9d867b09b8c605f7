"""What the `cqrs` commands print: `--help` with defaults, examples and exit codes; tables by
default and JSON with `--json`; the relay's progress line only when something changed."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

import cqrs
from cqrs._cli_support import ExitCode
from cqrs.cli import _parser, main
from cqrs.outbox import OutboxRelay
from cqrs.outbox._cli import _Progress
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.plugins import PluginManager, hookimpl, new_plugin_manager
from cqrs.plugins import set_plugin_manager as install


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None = None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="OrderPlaced", topic="orders", payload=Payload(n=n), partition_key=key
    )


async def write(outbox: MemoryOutboxedEventRepository, events: list[Any]) -> None:
    async with outbox as session:
        for item in events:
            outbox.add(session, item)
        await outbox.commit(session)


async def dead_letter(outbox: MemoryOutboxedEventRepository, count: int, error: str) -> None:
    rows = await outbox.claim(worker_id="w", batch_size=count, lease_seconds=30)
    for row in rows:
        await outbox.mark_failed(row, worker_id="w", error=error, retry_at=None)


class SeededOutbox:
    """Serves `seeded://` with one outbox kept across commands, so a test can fill it."""

    def __init__(self) -> None:
        self.outbox = MemoryOutboxedEventRepository()

    @hookimpl
    def cqrs_make_outbox_repository(self, url: str) -> MemoryOutboxedEventRepository | None:
        return self.outbox if url.startswith("seeded://") else None


@pytest.fixture
def manager() -> Iterator[PluginManager]:
    manager = new_plugin_manager(autoload=False)
    install(manager)
    yield manager
    install(None)


@pytest.fixture
def seeded(manager: PluginManager) -> MemoryOutboxedEventRepository:
    plugin = SeededOutbox()
    manager.register(plugin, name="seeded")
    return plugin.outbox


@pytest.fixture(autouse=True)
def root_handlers() -> Iterator[None]:
    """Commands silence logging until their start checks pass: restore the root logger after."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [commands] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def section(text: str, title: str) -> list[str]:
    """The indented lines under `title:` in a help text, up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    found: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        found.append(line.strip())
    return found


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_help_shows_every_default(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of(capsys, command).split())
    shown = [
        action
        for action in subcommands()[command]._actions
        if not any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
        and action.default != []
        and action.help != argparse.SUPPRESS
    ]
    assert shown or command == "plugins", f"cqrs {command} has no option with a default"
    for action in shown:
        assert f"(default: {action.default})" in text, (command, action.dest)


def test_an_option_without_a_meaningful_default_shows_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = " ".join(help_of(capsys, "outbox").split())
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    assert "(default: [])" not in text
    assert "--limit N dead letters to list (default: 100)" in text


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_help_shows_examples_that_parse(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    examples = section(help_of(capsys, command), "examples")
    assert examples, f"cqrs {command} --help shows no example"
    for example in examples:
        argv = shlex.split(example, comments=True)
        assert argv[:2] == ["cqrs", command], example
        parsed = _parser().parse_args(argv[1:])
        assert parsed.command == command


def test_the_top_level_help_shows_examples_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of(capsys)
    examples = section(text, "examples")
    assert any(example.startswith("cqrs relay --outbox") for example in examples)
    assert "cqrs relay --help  # a command's options, defaults and examples" in examples


@pytest.mark.parametrize("command", ["", *sorted(subcommands())])
def test_help_lists_every_exit_code(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, *([command] if command else []))
    listed = " ".join(section(text, "exit codes"))
    for code in ExitCode:
        assert f"{int(code)} {code.meaning}" in " ".join(listed.split()), code


def test_outbox_stats_are_a_table_by_default(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write(seeded, [event(1, "A"), event(2, "B")]))
    asyncio.run(dead_letter(seeded, 1, "poison"))
    assert main(["outbox", "stats", "--outbox", "seeded://"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[:4] == [["pending", "1"], ["delayed", "0"], ["leased", "0"], ["dead", "1"]]
    assert rows[4][0] == "lag"
    assert rows[4][1].endswith("s")


def test_outbox_stats_are_json_with_the_flag(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["outbox", "stats", "--outbox", "seeded://", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats == {"pending": 0, "delayed": 0, "leased": 0, "dead": 0, "lag_seconds": None}


def test_outbox_stats_of_an_empty_outbox_show_no_lag(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["outbox", "stats", "--outbox", "seeded://"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["lag", "-"]


def test_no_dead_letters_is_said(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["outbox", "dead-letters", "--outbox", "seeded://"]) == 0
    assert capsys.readouterr().out == "no dead letters\n"
    assert main(["outbox", "dead-letters", "--outbox", "seeded://", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_dead_letters_are_a_table_by_default(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write(seeded, [event(1, "A-1"), event(2)]))
    asyncio.run(dead_letter(seeded, 2, "broker refused:\n  too large"))
    assert main(["outbox", "dead-letters", "--outbox", "seeded://"]) == 0
    out, err = capsys.readouterr()
    header, *rows = out.splitlines()
    assert [c.strip() for c in header.split("  ") if c.strip()] == [
        "ID",
        "EVENT",
        "TOPIC",
        "KEY",
        "ATTEMPTS",
        "CREATED",
        "LAST ERROR",
    ]
    assert len(rows) == 2
    assert rows[0].split()[:5] == ["1", "OrderPlaced", "orders", "A-1", "1"]
    assert rows[1].split()[:5] == ["2", "OrderPlaced", "orders", "-", "1"]
    assert rows[0].endswith("  broker refused: too large")
    column = header.index("LAST ERROR")
    assert all(row[column:] == "broker refused: too large" for row in rows)
    assert err == ""


def test_dead_letters_say_when_the_limit_may_hide_more(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write(seeded, [event(1, "A"), event(2, "B")]))
    asyncio.run(dead_letter(seeded, 2, "poison"))
    assert main(["outbox", "dead-letters", "--outbox", "seeded://", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert err == "(showing the first 1; there may be more: raise --limit)\n"


def test_dead_letters_keep_their_json_shape(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write(seeded, [event(1, "A")]))
    asyncio.run(dead_letter(seeded, 1, "poison"))
    assert main(["outbox", "dead-letters", "--outbox", "seeded://", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert set(row) == {
        "id",
        "event_id",
        "event_name",
        "topic",
        "partition_key",
        "attempts",
        "last_error",
        "created_at",
    }
    assert (row["id"], row["partition_key"], row["last_error"]) == (1, "A", "poison")


@pytest.mark.parametrize(("action", "done"), [("replay", "replayed"), ("discard", "discarded")])
def test_replay_and_discard_say_what_they_did(
    seeded: MemoryOutboxedEventRepository,
    capsys: pytest.CaptureFixture[str],
    action: str,
    done: str,
) -> None:
    asyncio.run(write(seeded, [event(n, f"k{n}") for n in range(3)]))
    asyncio.run(dead_letter(seeded, 3, "poison"))
    assert main(["outbox", action, "1", "--outbox", "seeded://"]) == 0
    assert capsys.readouterr().out == f"{done} 1 dead letter\n"
    assert main(["outbox", action, "2", "3", "--outbox", "seeded://"]) == 0
    assert capsys.readouterr().out == f"{done} 2 dead letters\n"
    assert main(["outbox", action, "1", "99", "--outbox", "seeded://"]) == 0
    assert capsys.readouterr().out == (
        f"{done} 0 of 2 ids: 2 are not dead letters (see `cqrs outbox dead-letters`)\n"
    )


def test_replay_and_discard_keep_their_json_shape(
    seeded: MemoryOutboxedEventRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(write(seeded, [event(1, "A"), event(2, "B")]))
    asyncio.run(dead_letter(seeded, 2, "poison"))
    assert main(["outbox", "replay", "1", "7", "--outbox", "seeded://", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"replay": 1}
    assert main(["outbox", "discard", "2", "--outbox", "seeded://", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"discard": 1}


async def test_the_relay_progress_line_only_comes_when_something_changed() -> None:
    outbox = MemoryOutboxedEventRepository()
    await write(outbox, [event(1, "A")])
    relay = OutboxRelay(outbox, cqrs.MemoryMessageBroker())
    progress = _Progress(outbox, [relay])
    start = await progress.begin()
    assert start.startswith("pending=1 delayed=0 leased=0 dead=0 lag=")
    assert await progress.line() is None, "nothing changed since the start"
    assert await progress.line() is None, "the lag grows, but that is no change"

    await relay.run_once()
    line = await progress.line()
    assert line is not None
    assert line.startswith("published=1 rate=")
    assert line.endswith(" pending=0 delayed=0 leased=0 dead=0 lag=-")
    assert await progress.line() is None

    await write(outbox, [event(2, "B")])
    line = await progress.line()
    assert line is not None
    assert line.startswith("published=1 rate=")
    assert " pending=1 delayed=0 leased=0 dead=0 lag=" in line
    assert await progress.line() is None
