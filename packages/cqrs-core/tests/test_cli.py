"""The `cqrs` command line, run in-process on a plugin manager the test controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cqrs.cli import main
from cqrs.memory import _plugin as builtin
from cqrs.plugins import AUTOLOAD_ENV, PluginManager, hookimpl, new_plugin_manager
from cqrs.plugins import set_plugin_manager as install


class NatsPlugin:
    """Stands for a third-party plugin serving two roles."""

    @hookimpl
    def cqrs_list_schemes(self) -> dict[str, list[str]]:
        return {"message_broker": ["nats", "tls+nats"], "outbox": ["jetstream"]}


class QuietPlugin:
    """A plugin that provides hooks but lists no schemes."""

    @hookimpl
    def cqrs_make_message_broker(self, url: str) -> None:
        return None


class BrokenListing:
    @hookimpl
    def cqrs_list_schemes(self) -> dict[str, list[str]]:
        raise RuntimeError("listing exploded")


@pytest.fixture
def manager() -> Iterator[PluginManager]:
    manager = new_plugin_manager(autoload=False)
    install(manager)
    yield manager
    install(None)


def builtin_schemes() -> dict[str, list[str]]:
    """What the built-in plugin declares (it grows as core gains in-memory implementations)."""
    schemes: dict[str, list[str]] = {}
    for declared in builtin.cqrs_declare_schemes():
        schemes.setdefault(declared.role, []).append(declared.scheme)
    return schemes


def builtin_declarations() -> list[dict[str, str]]:
    return [
        {"role": d.role, "scheme": d.scheme, "description": d.description}
        for d in builtin.cqrs_declare_schemes()
    ]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    status = main(["plugins", "--json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_lists_the_builtin_plugin(
    manager: PluginManager, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["plugins"])
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["PLUGIN", "DISTRIBUTION", "SCHEMES"]
    name, dist, listing = lines[1].split(maxsplit=2)
    assert (name, dist) == ("cqrs-core", "cqrs-core")
    assert listing.startswith("message_broker: memory://, devnull://")
    assert listing == "; ".join(
        f"{role}: {', '.join(f'{s}://' for s in schemes)}"
        for role, schemes in builtin_schemes().items()
    )


def test_json_lists_plugins_with_distribution_and_schemes_per_role(
    manager: PluginManager, capsys: pytest.CaptureFixture[str]
) -> None:
    manager.register(NatsPlugin(), name="nats")
    manager.distributions["nats"] = "cqrs-nats"
    manager.register(QuietPlugin(), name="quiet")
    status, report = run_json(capsys)
    assert status == 0
    assert report == {
        "plugins": [
            {
                "name": "cqrs-core",
                "distribution": "cqrs-core",
                "schemes": builtin_schemes(),
                "declarations": builtin_declarations(),
            },
            {
                "name": "nats",
                "distribution": "cqrs-nats",
                "schemes": {"message_broker": ["nats", "tls+nats"], "outbox": ["jetstream"]},
                "declarations": [],
            },
            {"name": "quiet", "distribution": None, "schemes": {}, "declarations": []},
        ],
        "failures": [],
    }


def test_text_shows_every_role_and_a_dash_for_unknowns(
    manager: PluginManager, capsys: pytest.CaptureFixture[str]
) -> None:
    manager.register(NatsPlugin(), name="nats")
    manager.register(QuietPlugin(), name="quiet")
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split(maxsplit=2) == [
        "nats",
        "-",
        "message_broker: nats://, tls+nats://; outbox: jetstream://",
    ]
    assert lines[3].split() == ["quiet", "-", "-"]
    column = lines[0].index("DISTRIBUTION")
    assert [line[column:].split()[0] for line in lines] == ["DISTRIBUTION", "cqrs-core", "-", "-"]
    assert all(line[column - 2 : column] == "  " for line in lines)


def test_failed_plugins_are_reported_and_the_status_is_one(
    manager: PluginManager, capsys: pytest.CaptureFixture[str]
) -> None:
    manager.failures["kafka"] = "ModuleNotFoundError: No module named 'aiokafka'"
    manager.register(BrokenListing(), name="broken")
    status = main(["plugins"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "cqrs-core" in out
    assert "kafka: ModuleNotFoundError: No module named 'aiokafka'" in err
    assert "broken: cqrs_list_schemes failed: RuntimeError: listing exploded" in err

    status, report = run_json(capsys)
    assert status == 1
    assert report["failures"] == [
        {"name": "kafka", "error": "ModuleNotFoundError: No module named 'aiokafka'"},
        {"name": "broken", "error": "cqrs_list_schemes failed: RuntimeError: listing exploded"},
    ]


def test_a_subcommand_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "plugins" in capsys.readouterr().out


def test_unknown_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "frobnicate" in capsys.readouterr().err


def test_python_dash_m_cqrs_runs_the_same_command_line() -> None:
    env = {**os.environ, AUTOLOAD_ENV: "1"}
    result = subprocess.run(
        [sys.executable, "-m", "cqrs", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [plugin["name"] for plugin in report["plugins"]] == ["cqrs-core"]
    assert report["plugins"][0]["schemes"]["message_broker"][:2] == ["memory", "devnull"]


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """Commands silence logging until their start checks pass: restore the root logger after."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_is_accepted_before_and_after_the_subcommand(
    manager: PluginManager,
    root_handlers: None,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    command = ["relay", "--outbox", "nats://x", "--broker", "memory://"]
    argv = ["--debug", *command] if where == "before" else [*command, "--debug"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith(
        "cqrs relay: --outbox: no installed plugin provides an outbox for nats://"
    )


def test_a_failed_start_is_one_line_and_an_exit_code(
    manager: PluginManager, root_handlers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["relay", "--outbox", "memory://", "--broker", "nats://u:pw@x"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("cqrs relay: --broker: no installed plugin provides a message broker")
    assert "pw@" not in err


def test_outbox_stats_show_delayed_rows(
    manager: PluginManager, root_handlers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["outbox", "stats", "--outbox", "memory://", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats == {"pending": 0, "delayed": 0, "leased": 0, "dead": 0, "lag_seconds": None}


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_connect_timeout_must_be_a_positive_number(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(
            ["relay", "--outbox", "memory://", "--broker", "memory://", "--connect-timeout", value]
        )
    assert info.value.code == 2
    assert "--connect-timeout" in capsys.readouterr().err


def test_workers_must_be_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["relay", "--outbox", "memory://", "--broker", "memory://", "--workers", "0"]) == 2
    assert capsys.readouterr().err == "cqrs relay: --workers must be at least 1\n"
