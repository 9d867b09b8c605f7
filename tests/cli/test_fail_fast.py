"""`cqrs relay` and `cqrs outbox` fail fast: the real command line, in a subprocess, against real
services; each failure of the table in docs/deployment.md exits with its code and one line.

Before the start checks, these commands printed tracebacks (a plain `postgresql://`), kept
polling with a traceback per round (a missing database), or started as if all was well (a
wrong AMQP password with an empty outbox).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cqrs._cli_support import ExitCode
from cqrs.testing._support.services import require_service

CQRS = [sys.executable, "-m", "cqrs"]


def cqrs(
    *args: str, code: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line (or `code` calling it) and wait; the start checks bound the wait."""
    command = [sys.executable, "-c", code, *args] if code else [*CQRS, *args]
    env = {k: v for k, v in os.environ.items() if k != "CQRS_DISABLE_PLUGIN_AUTOLOAD"}
    return subprocess.run(command, capture_output=True, text=True, timeout=50, env=env, cwd=cwd)


def one_line(result: subprocess.CompletedProcess[str], code: ExitCode) -> str:
    """The single stderr line of a command that failed with `code`."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def relay(outbox: str, broker: str = "devnull://", *extra: str) -> list[str]:
    return ["relay", "--outbox", outbox, "--broker", broker, *extra]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a hung service)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def postgres_url() -> str:
    return require_service("postgres").url


@pytest.fixture
def rabbitmq_url() -> str:
    return require_service("rabbitmq").url


def with_database(url: str, database: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{database}"


@pytest.mark.parametrize(
    ("url", "meant"),
    [
        ("postgresql://app:s3cret@127.0.0.1:5432/test", "postgresql+asyncpg://app:***@127.0.0.1"),
        ("postgres://app@127.0.0.1:5432/test", "postgresql+asyncpg://app@127.0.0.1"),
        ("mysql://root@127.0.0.1:3306/test", "mysql+asyncmy://root@127.0.0.1"),
        ("mariadb://root@127.0.0.1:3306/test", "mariadb+asyncmy://root@127.0.0.1"),
        ("sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
    ],
)
def test_a_database_url_without_driver_suggests_the_installed_one(url: str, meant: str) -> None:
    line = one_line(cqrs(*relay(url)), ExitCode.CONFIG)
    assert line.startswith("cqrs relay: --outbox: no installed plugin provides an outbox for ")
    assert f"did you mean {meant}" in line
    assert "s3cret" not in line


def test_a_broker_alias_suggests_the_scheme() -> None:
    line = one_line(
        cqrs(*relay("memory://", "rabbitmq://guest:s3cret@127.0.0.1:5672/")), ExitCode.CONFIG
    )
    assert "did you mean amqp://guest:***@127.0.0.1:5672/?" in line
    assert "s3cret" not in line


def test_an_unknown_scheme_lists_the_installed_ones() -> None:
    line = one_line(cqrs(*relay("memory://", "nats://127.0.0.1:4222")), ExitCode.CONFIG)
    assert "no installed plugin provides a message broker for nats://" in line
    assert "Installed schemes: amqp:// (rabbitmq)" in line


def test_a_scheme_of_another_role_says_so() -> None:
    line = one_line(cqrs(*relay("amqp://guest:guest@127.0.0.1:5672/")), ExitCode.CONFIG)
    assert "amqp:// is a message broker and consumer transport scheme" in line


def test_not_a_url() -> None:
    line = one_line(cqrs(*relay("localhost:5432")), ExitCode.CONFIG)
    assert line == (
        "cqrs relay: --outbox: ValueError: not a URL (expected scheme://...): 'localhost:5432'"
    )


def test_a_missing_driver_names_what_to_install() -> None:
    """The driver is hidden from the import system: the plugin claims the scheme, the import
    of asyncpg fails."""
    code = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "from cqrs.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    result = cqrs(*relay("postgresql+asyncpg://postgres@127.0.0.1:5432/test"), code=code)
    line = one_line(result, ExitCode.CONFIG)
    assert line.startswith(
        "cqrs relay: --outbox postgresql+asyncpg://postgres@127.0.0.1:5432/test: "
        "the driver is not installed"
    )
    assert line.endswith("install it with: pip install asyncpg")


@pytest.mark.postgres
def test_a_missing_database(postgres_url: str) -> None:
    url = with_database(postgres_url, "cqrs_no_such_database")
    line = one_line(cqrs(*relay(url)), ExitCode.NOT_SET_UP)
    assert line == (
        f"cqrs relay: --outbox {url}: the database does not exist (InvalidCatalogNameError: "
        'database "cqrs_no_such_database" does not exist); create it or fix the URL'
    )


@pytest.mark.postgres
def test_a_missing_outbox_table_says_how_to_create_it(postgres_url: str) -> None:
    url = f"{postgres_url}?table=cqrs_no_such_table"
    line = one_line(cqrs(*relay(url)), ExitCode.NOT_SET_UP)
    assert "the outbox table does not exist (UndefinedTableError" in line
    assert f"create it with: cqrs outbox create-schema --outbox '{url}'" in line


@pytest.mark.postgres
def test_the_outbox_commands_check_too(postgres_url: str) -> None:
    url = with_database(postgres_url, "cqrs_no_such_database")
    line = one_line(cqrs("outbox", "stats", "--outbox", url), ExitCode.NOT_SET_UP)
    assert line.startswith(f"cqrs outbox stats: --outbox {url}: the database does not exist")


def test_an_unreachable_database(closed_port: int) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/test"
    line = one_line(cqrs(*relay(url)), ExitCode.UNAVAILABLE)
    assert line.startswith(f"cqrs relay: --outbox {url}: the outbox is unavailable (")
    assert "Connect call failed" in line


def test_a_database_that_does_not_answer(silent_port: int) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{silent_port}/test"
    line = one_line(cqrs(*relay(url, "devnull://", "--connect-timeout", "1")), ExitCode.UNAVAILABLE)
    assert line == (
        f"cqrs relay: --outbox {url}: the outbox did not answer within 1s "
        "(unreachable or overloaded; --connect-timeout sets the bound)"
    )


@pytest.mark.rabbitmq
def test_a_wrong_amqp_password_with_an_empty_outbox(rabbitmq_url: str) -> None:
    user = rabbitmq_url.split("://", 1)[1].split(":", 1)[0]
    host = rabbitmq_url.rsplit("@", 1)[1]
    url = f"amqp://{user}:not-the-s3cret@{host}"
    line = one_line(cqrs(*relay("memory://", url)), ExitCode.UNAVAILABLE)
    assert line.startswith(f"cqrs relay: --broker amqp://{user}:***@{host}: ")
    assert "the broker refused the credentials (ProbableAuthenticationError: ACCESS_REFUSED" in line
    assert "not-the-s3cret" not in line


def test_an_unreachable_broker(closed_port: int) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{closed_port}/"
    line = one_line(cqrs(*relay("memory://", url)), ExitCode.UNAVAILABLE)
    assert line.startswith(
        f"cqrs relay: --broker amqp://guest:***@127.0.0.1:{closed_port}/: "
        "the broker is unavailable ("
    )


def test_a_broker_that_does_not_answer(silent_port: int) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{silent_port}/"
    result = cqrs(*relay("memory://", url, "--connect-timeout", "1"))
    line = one_line(result, ExitCode.UNAVAILABLE)
    assert "the broker did not answer within 1s" in line


def test_an_unreachable_kafka(closed_port: int) -> None:
    url = f"kafka://127.0.0.1:{closed_port}"
    line = one_line(cqrs(*relay("memory://", url)), ExitCode.UNAVAILABLE)
    assert line.startswith(f"cqrs relay: --broker {url}: the broker is unavailable (")


@pytest.mark.postgres
def test_debug_shows_the_traceback_then_the_same_line(postgres_url: str) -> None:
    url = with_database(postgres_url, "cqrs_no_such_database")
    quiet = one_line(cqrs(*relay(url)), ExitCode.NOT_SET_UP)
    for args in (["--debug", *relay(url)], [*relay(url), "--debug"]):
        loud = cqrs(*args)
        assert loud.returncode == ExitCode.NOT_SET_UP
        assert "Traceback (most recent call last)" in loud.stderr
        assert "asyncpg.exceptions.InvalidCatalogNameError" in loud.stderr
        assert loud.stderr.splitlines()[-1] == quiet


SAGA_APP = """\
from cqrs.saga import SagaMap

sagas = SagaMap()
not_a_map = 42
"""


@pytest.fixture
def saga_app(tmp_path: Path) -> Path:
    """A directory holding `saga_app.py` (an empty SagaMap), the command's working directory."""
    (tmp_path / "saga_app.py").write_text(SAGA_APP)
    return tmp_path


def recover(*options: str, app: str = "saga_app:sagas") -> list[str]:
    return ["saga", "recover", "--app", app, "--once", *options]


@pytest.mark.parametrize(
    ("app", "problem"),
    [
        ("no_such_module:sagas", "no module named 'no_such_module' (is it installed?)"),
        ("saga_app:missing", "saga_app has no attribute 'missing'"),
        ("saga_app:not_a_map", "is neither a SagaMap nor a function filling one"),
        ("saga_app", "expected module:attribute"),
    ],
)
def test_saga_recover_with_a_bad_app(saga_app: Path, app: str, problem: str) -> None:
    result = cqrs(
        *recover("--storage", "memory://", "--broker", "devnull://", app=app), cwd=saga_app
    )
    line = one_line(result, ExitCode.CONFIG)
    assert line.startswith(f"cqrs saga recover: --app {app!r}: ")
    assert problem in line


def test_saga_recover_without_outbox_or_broker(saga_app: Path) -> None:
    line = one_line(cqrs(*recover("--storage", "memory://"), cwd=saga_app), ExitCode.CONFIG)
    assert "writes no outbox and no --broker was given" in line


def test_saga_recover_with_a_storage_url_without_driver(saga_app: Path) -> None:
    url = "postgresql://app:s3cret@127.0.0.1:5432/test?outbox=outbox"
    line = one_line(cqrs(*recover("--storage", url), cwd=saga_app), ExitCode.CONFIG)
    assert line.startswith("cqrs saga recover: --storage: ")
    assert "did you mean postgresql+asyncpg://app:***@127.0.0.1" in line
    assert "s3cret" not in line


def test_saga_recover_without_its_tables(saga_app: Path) -> None:
    url = f"sqlite+aiosqlite:///{saga_app / 'sagas.db'}?outbox=outbox"
    line = one_line(cqrs(*recover("--storage", url), cwd=saga_app), ExitCode.NOT_SET_UP)
    assert "the saga storage table does not exist" in line


@pytest.mark.postgres
def test_saga_recover_with_a_missing_database(saga_app: Path, postgres_url: str) -> None:
    url = with_database(postgres_url, "cqrs_no_such_database") + "?outbox=outbox"
    line = one_line(cqrs(*recover("--storage", url), cwd=saga_app), ExitCode.NOT_SET_UP)
    assert "the database does not exist" in line


def test_saga_recover_with_an_unreachable_broker(saga_app: Path, closed_port: int) -> None:
    url = f"amqp://guest:s3cret@127.0.0.1:{closed_port}/"
    result = cqrs(*recover("--storage", "memory://", "--broker", url), cwd=saga_app)
    line = one_line(result, ExitCode.UNAVAILABLE)
    assert line.startswith(
        f"cqrs saga recover: --broker amqp://guest:***@127.0.0.1:{closed_port}/: "
        "the broker is unavailable ("
    )


def test_saga_recover_that_starts_reports_what_it_did(saga_app: Path) -> None:
    result = cqrs(*recover("--storage", "memory://", "--broker", "devnull://"), cwd=saga_app)
    assert result.returncode == ExitCode.OK, result.stderr
    assert "recovered: none" in result.stderr
