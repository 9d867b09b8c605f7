"""What every `cqrs` command shares: exit codes, one-line errors and the start checks.

A command fails fast: it resolves its URLs and `module:attribute` references, then probes each
service under a time bound before doing any work. Whatever goes wrong becomes a
`CommandError` with one line of text and an `ExitCode` for its class of failure;
`cqrs.cli.main` prints it on stderr (with the traceback under `--debug`) and exits with it.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import importlib
import inspect
import logging
import os
import re
import sys
import textwrap
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from cqrs.faults import is_destination_fault
from cqrs.redaction import redact_text, redact_url

if TYPE_CHECKING:
    from cqrs.brokers.protocol import BrokerLifecycle

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "CommandError",
    "ExitCode",
    "HelpFormatter",
    "StartupLogging",
    "add_connect_timeout",
    "build",
    "check_broker",
    "check_inbox",
    "check_outbox",
    "check_saga_storage",
    "close_resource",
    "configure_logging",
    "worker_starting",
    "describe",
    "epilog",
    "load_reference",
    "print_table",
    "reference_error",
    "report",
    "service_error",
]

_T = TypeVar("_T")

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds a start check waits for a service before calling it unavailable."""

_LINE_LIMIT = 1000
"""Longest error line printed; driver messages can carry whole statements."""

_CAUSE_DEPTH = 8


class ExitCode(enum.IntEnum):
    """The exit status of a `cqrs` command, one per class of failure; `meaning` says which
    (shown by every command's `--help` and tabled in docs/deployment.md)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    UNAVAILABLE = 4
    NOT_SET_UP = 5

    @property
    def meaning(self) -> str:
        """One line saying what the code means, shown by `--help` and tabled in the docs."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "done, or stopped by SIGTERM/SIGINT after finishing the work in hand",
    ExitCode.FAILED: "an unexpected error (cqrs plugins: a plugin failed to load)",
    ExitCode.USAGE: "usage: an unknown option, a missing argument, an invalid value",
    ExitCode.CONFIG: (
        "configuration: unknown URL scheme, driver not installed, malformed URL, "
        "a module:attribute that does not load"
    ),
    ExitCode.UNAVAILABLE: (
        "a service is unreachable, does not answer within --connect-timeout, "
        "or refuses the credentials"
    ),
    ExitCode.NOT_SET_UP: (
        "a service answers but is not set up: the database or the table does not exist, "
        "or access is refused"
    ),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and examples as written and ends each option's help with its
    default, unless the default says nothing (`None`, `False`, empty)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
        ):
            return text
        return f"{text} (default: %(default)s)"


def epilog(*examples: str) -> str:
    """The end of a command's `--help`: its example command lines, then the exit codes."""
    lines = ["examples:", *(f"  {example}" for example in examples), "", "exit codes:"]
    lines += [
        textwrap.fill(
            code.meaning, 79, initial_indent=f"  {int(code)}  ", subsequent_indent="     "
        )
        for code in ExitCode
    ]
    return "\n".join(lines)


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` (the first is the header) in columns two spaces apart; the last column is
    not padded, so a long value (an error, a list) ends its line."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


class CommandError(Exception):
    """A failure a command reports as one line on stderr, exiting with `code`."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def add_connect_timeout(parser: argparse.ArgumentParser) -> None:
    """Add `--connect-timeout SECONDS`, the bound on each start check."""
    parser.add_argument(
        "--connect-timeout",
        type=_positive,
        default=DEFAULT_CONNECT_TIMEOUT,
        metavar="SECONDS",
        help="seconds each service may take to answer at start",
    )


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def describe(error: BaseException) -> str:
    """`error` as one redacted line: its innermost cause's type and first line of text.

    Wrappers (SQLAlchemy's, the brokers' `DestinationUnavailableError`) add little to what the
    driver said, so the line shows the driver's error.
    """
    root = error
    for _ in range(_CAUSE_DEPTH):
        cause = root.__cause__
        if not isinstance(cause, Exception):  # a cancellation under the error says nothing
            break
        root = cause
    name = type(root).__name__
    lines = [line.strip() for line in str(root).splitlines() if line.strip()]
    text = re.sub(r"^\([\w.]+\)\s*", "", lines[0]) if lines else ""
    text = text.removeprefix(f"{name}: ")
    described = f"{name}: {text}" if text else name
    return _one_line(described)


def _one_line(text: str) -> str:
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= _LINE_LIMIT else text[: _LINE_LIMIT - 3] + "..."


def build(make: Callable[[str], _T], url: str, *, option: str) -> _T:
    """`make(url)` (a `cqrs.plugins.make_*` factory), any failure as a configuration error.

    Building touches no service, so what fails here is the URL itself: an unknown scheme (the
    message says which were meant and what is installed), a missing driver, a malformed URL.
    """
    try:
        return make(url)
    except ImportError as error:
        missing = error.name or "a module"
        raise CommandError(
            f"{option} {redact_url(url)}: the driver is not installed ({describe(error)}); "
            f"install it with: pip install {missing.split('.')[0].replace('_', '-')}",
            ExitCode.CONFIG,
        ) from error
    except Exception as error:
        from cqrs.errors import CQRSError

        text = _one_line(str(error)) if isinstance(error, CQRSError) else describe(error)
        where = option if redact_url(url) in text else f"{option} {redact_url(url)}"
        raise CommandError(f"{where}: {text}", ExitCode.CONFIG) from error


_MISSING_DATABASE = re.compile(
    r'database "[^"]*" does not exist|unknown database|unable to open database file',
    re.IGNORECASE,
)
_MISSING_TABLE = re.compile(
    r"relation \"[^\"]*\" does not exist|no such table|table '[^']*' doesn't exist",
    re.IGNORECASE,
)
_CREDENTIALS = re.compile(r"access_refused|authenticat|access denied for user|login", re.IGNORECASE)
_NOT_ALLOWED = re.compile(r"permission denied|command denied", re.IGNORECASE)


def service_error(
    error: BaseException,
    *,
    option: str,
    url: str,
    what: str,
    timeout: float | None = None,
    create_hint: str | None = None,
) -> CommandError:
    """The one-line error for `error`, raised while talking to the service at `url`.

    A missing database or table, or a refused right, is `NOT_SET_UP` (with `create_hint` for a
    missing table); a destination fault per `cqrs.faults.classify` (unreachable, refusing the
    credentials) or a timeout is `UNAVAILABLE`; anything else the service answered is
    `NOT_SET_UP` too, since the URL reached it but the request was refused.
    """
    where = f"{option} {redact_url(url)}"
    if isinstance(error, TimeoutError) and timeout is not None:
        return CommandError(
            f"{where}: the {what} did not answer within {timeout:g}s "
            "(unreachable or overloaded; --connect-timeout sets the bound)",
            ExitCode.UNAVAILABLE,
        )
    described = describe(error)
    if _MISSING_DATABASE.search(described):
        return CommandError(
            f"{where}: the database does not exist ({described}); create it or fix the URL",
            ExitCode.NOT_SET_UP,
        )
    if _MISSING_TABLE.search(described):
        hint = f"; {create_hint}" if create_hint else ""
        return CommandError(
            f"{where}: the {what} table does not exist ({described}){hint}", ExitCode.NOT_SET_UP
        )
    if _NOT_ALLOWED.search(described):
        return CommandError(f"{where}: access refused ({described})", ExitCode.NOT_SET_UP)
    if isinstance(error, TimeoutError) or is_destination_fault(error):
        problem = "refused the credentials" if _CREDENTIALS.search(described) else "is unavailable"
        return CommandError(f"{where}: the {what} {problem} ({described})", ExitCode.UNAVAILABLE)
    return CommandError(
        f"{where}: the {what} refused the request ({described})", ExitCode.NOT_SET_UP
    )


async def _probe(
    call: Callable[[], Awaitable[_T]],
    *,
    option: str,
    url: str,
    what: str,
    timeout: float,
    create_hint: str | None = None,
) -> _T:
    try:
        async with asyncio.timeout(timeout):
            return await call()
    except Exception as error:
        raise service_error(
            error, option=option, url=url, what=what, timeout=timeout, create_hint=create_hint
        ) from error


async def check_outbox(outbox: Any, url: str, *, timeout: float, option: str = "--outbox") -> Any:
    """Query the outbox's stats (a real query of its table) and return them, or fail fast."""
    return await _probe(
        outbox.stats,
        option=option,
        url=url,
        what="outbox",
        timeout=timeout,
        create_hint=(
            f"create it with: cqrs outbox create-schema --outbox '{redact_url(url)}' "
            "(or outbox.create_schema(), or your migrations)"
        ),
    )


async def check_broker(
    broker: BrokerLifecycle, url: str, *, timeout: float, option: str = "--broker"
) -> None:
    """Connect a broker made from a URL (every such broker has `connect()`) now, or fail fast.

    In-process brokers pass at once; RabbitMQ opens its connection and channel, Kafka starts
    its producer (which fetches the cluster's metadata).
    """
    await _probe(broker.connect, option=option, url=url, what="broker", timeout=timeout)


async def check_saga_storage(
    storage: Any, url: str, *, timeout: float, option: str = "--storage"
) -> None:
    """Read one (absent) saga from the storage, a real query of its table, or fail fast."""

    async def read() -> None:
        await storage.load_saga_state(uuid.UUID(int=0))

    await _probe(
        read,
        option=option,
        url=url,
        what="saga storage",
        timeout=timeout,
        create_hint="create it with storage.create_schema() or your migrations",
    )


async def check_inbox(
    inbox: Any, url: str, *, timeout: float, consumer: str, option: str = "--inbox"
) -> None:
    """Ask the inbox whether it has seen an (absent) message, a real query of its table, or
    fail fast: otherwise every message would wait on an inbox that cannot work."""

    async def read() -> None:
        await inbox.seen(uuid.UUID(int=0), consumer=consumer)

    await _probe(
        read,
        option=option,
        url=url,
        what="inbox",
        timeout=timeout,
        create_hint="create it with inbox.create_schema() or your migrations",
    )


async def close_resource(resource: Any) -> None:
    """Close `resource` (sync or async `close()`, if it has one) at the end of a command; a
    failure to close is logged, never raised over the command's own result."""
    close = getattr(resource, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logging.getLogger("cqrs.cli").exception("closing %r failed", resource)


def reference_error(option: str, reference: str, problem: str) -> CommandError:
    """The configuration error for a `module:attribute` reference that does not work."""
    return CommandError(f"{option} {reference!r}: {_one_line(problem)}", ExitCode.CONFIG)


def load_reference(reference: str, *, option: str = "--app") -> Any:
    """The object `module:attribute` names (the attribute may be dotted), or a `CommandError`.

    The current directory is importable, as with `python -m`, so `--app myservice.sagas:x`
    works from the project's root under the `cqrs` script too.
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise reference_error(option, reference, "expected module:attribute, e.g. myapp.sagas:init")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        value: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and (
            module_name == error.name or module_name.startswith(f"{error.name}.")
        ):
            raise reference_error(
                option, reference, f"no module named {error.name!r} (is it installed?)"
            ) from error
        raise reference_error(
            option, reference, f"importing {module_name} failed: {describe(error)}"
        ) from error
    except Exception as error:
        raise reference_error(
            option, reference, f"importing {module_name} failed: {describe(error)}"
        ) from error
    path = module_name
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError as error:
            raise reference_error(option, reference, f"{path} has no attribute {part!r}") from error
        path = f"{path}.{part}"
    return value


def configure_logging(debug: bool) -> None:
    """Log to stderr at INFO with timestamps (`cqrs` loggers at DEBUG under `--debug`)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if debug:
        logging.getLogger("cqrs").setLevel(logging.DEBUG)


class StartupLogging:
    """Holds log records back until the start checks pass, so a failed start prints one line;
    `started()` turns logging on and replays the warnings held (a plugin that failed to load,
    say). Under `--debug` records show from the start."""

    _KEPT = 100

    def __init__(self, debug: bool) -> None:
        self.debug = debug
        self._held: _Holding | None = None
        if debug:
            configure_logging(debug=True)
        else:
            self._held = _Holding(self._KEPT)
            logging.getLogger().addHandler(self._held)

    def started(self) -> None:
        """The checks passed: log to stderr from now on, starting with the records held."""
        held, self._held = self._held, None
        if held is not None:
            logging.getLogger().removeHandler(held)
        configure_logging(self.debug)
        handlers = logging.getLogger().handlers
        for record in held.records if held is not None else ():
            for handler in handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)


class _Holding(logging.Handler):
    """Keeps the first `limit` records instead of printing them."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.limit:
            self.records.append(record)


def report(error: BaseException, *, command: str, debug: bool) -> int:
    """Print `error` as `cqrs <command>: <one line>` on stderr (the traceback first under
    `--debug`) and return its exit code; an unexpected error exits with `FAILED`."""
    if isinstance(error, CommandError):
        line, code = str(error), error.code
    else:
        hint = "" if debug else " (--debug shows the traceback)"
        line, code = f"unexpected error: {describe(error)}{hint}", ExitCode.FAILED
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    print(f"cqrs {command}: {line}", file=sys.stderr, flush=True)
    return int(code)


def worker_starting(command: str) -> None:
    """Tell the plugins a worker command is starting (`cqrs_worker_starting`: instrumentation
    installs itself), before anything connects; a plugin failing here is logged, not fatal."""
    from cqrs.plugins.manager import get_plugin_manager

    try:
        get_plugin_manager().hook.cqrs_worker_starting(command=command)
    except Exception:
        logging.getLogger("cqrs.plugins").exception(
            "a plugin failed while %r was starting; going on without it", command
        )
