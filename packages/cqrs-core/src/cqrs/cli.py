"""The `cqrs` command line: one subcommand per function pair (`_add_<name>`, `_run_<name>`).

`cqrs plugins [--json]` lists the loaded plugins, their distribution and URL schemes, and the
plugins that failed to load; `cqrs relay --outbox URL --broker URL` runs outbox relays;
`cqrs outbox stats|dead-letters|replay|discard --outbox URL` inspects and repairs the outbox;
`cqrs saga recover --storage URL --app module:saga_map` runs a saga recovery worker;
`cqrs consume --broker URL --app module:function` runs an event consumer;
`cqrs diagram module:object [--kind sequence|class]` prints a saga's or handler chain's Mermaid.

Every command's `--help` shows each option's default, examples and the exit codes. Commands
print tables for people and JSON with `--json`. A command that cannot start prints one line on
stderr and exits with the code of its class of failure (`cqrs._cli_support.ExitCode`, tabled
in docs/deployment.md); `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["main"]

_T = TypeVar("_T")
_Run = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default `sys.argv[1:]`) and return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    run: _Run = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from cqrs._cli_support import report

        action = getattr(args, "action", None)
        command = f"{args.command} {action}" if action else args.command
        return report(error, command=command, debug=args.debug)


def _parser() -> argparse.ArgumentParser:
    from cqrs._cli_support import HelpFormatter, epilog

    parser = argparse.ArgumentParser(
        prog="cqrs",
        description="Inspect and operate a cqrs installation.",
        epilog=epilog(
            "cqrs plugins",
            'cqrs relay --outbox "$DATABASE_URL" --broker "$BROKER_URL"',
            'cqrs outbox stats --outbox "$DATABASE_URL"',
            "cqrs relay --help  # a command's options, defaults and examples",
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, (help_text, add, run) in _COMMANDS.items():
        sub = commands.add_parser(
            name, help=help_text, description=help_text, formatter_class=HelpFormatter
        )
        add(sub)
        # Also accepted after the subcommand; SUPPRESS keeps the global flag's value otherwise.
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
        sub.set_defaults(run=run, command=name)
    return parser


_DEBUG_HELP = "show tracebacks and debug logs instead of one-line errors"


def _add_plugins(parser: argparse.ArgumentParser) -> None:
    from cqrs._cli_support import epilog

    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.epilog = epilog(
        "cqrs plugins         # a table: each plugin, its distribution and URL schemes",
        "cqrs plugins --json  # the same, with each scheme's description, as JSON",
    )


def _run_plugins(args: argparse.Namespace) -> int:
    """Print each plugin with its distribution and schemes; exit 1 if any plugin failed."""
    from cqrs.plugins.manager import get_plugin_manager

    manager = _quietly(get_plugin_manager)
    registry = manager.schemes
    schemes = registry.by_plugin()
    failures = {**manager.failures, **registry.problems}
    declared: dict[str, list[dict[str, str]]] = {}
    for entry in registry.entries():
        if entry.declaration is not None:
            declared.setdefault(entry.plugin, []).append(
                {
                    "role": entry.role,
                    "scheme": entry.scheme,
                    "description": entry.declaration.description,
                }
            )
    plugins = [
        {
            "name": name,
            "distribution": manager.distributions.get(name),
            "schemes": schemes.get(name, {}),
            "declarations": declared.get(name, []),
        }
        for name, plugin in manager.list_name_plugin()
        if plugin is not None
    ]
    report = {
        "plugins": plugins,
        "failures": [{"name": name, "error": error} for name, error in failures.items()],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_plugins(report)
    return 1 if failures else 0


def _quietly(build: Callable[[], _T]) -> _T:
    """Call `build` without Python's last-resort stderr logging: the command reports failures."""
    log = logging.getLogger("cqrs.plugins")
    silence = logging.NullHandler()
    log.addHandler(silence)
    try:
        return build()
    finally:
        log.removeHandler(silence)


def _print_plugins(report: dict[str, Any]) -> None:
    from cqrs._cli_support import print_table

    rows = [("PLUGIN", "DISTRIBUTION", "SCHEMES")]
    for plugin in report["plugins"]:
        roles = plugin["schemes"]
        listing = "; ".join(
            f"{role}: {', '.join(f'{s}://' for s in found)}" for role, found in roles.items()
        )
        rows.append((plugin["name"], plugin["distribution"] or "-", listing or "-"))
    print_table(rows)
    if report["failures"]:
        print("\nfailed to load:", file=sys.stderr)
        for failure in report["failures"]:
            print(f"  {failure['name']}: {failure['error']}", file=sys.stderr)


def _add_relay(parser: argparse.ArgumentParser) -> None:
    from cqrs.outbox._cli import add_relay_arguments

    add_relay_arguments(parser)


def _run_relay(args: argparse.Namespace) -> int:
    from cqrs.outbox._cli import run_relay

    return run_relay(args)


def _add_outbox(parser: argparse.ArgumentParser) -> None:
    from cqrs.outbox._cli import add_outbox_arguments

    add_outbox_arguments(parser)


def _run_outbox(args: argparse.Namespace) -> int:
    from cqrs.outbox._cli import run_outbox

    return run_outbox(args)


def _add_saga(parser: argparse.ArgumentParser) -> None:
    from cqrs.saga._cli import add_saga_arguments

    add_saga_arguments(parser)


def _run_saga(args: argparse.Namespace) -> int:
    from cqrs.saga._cli import run_saga

    return run_saga(args)


def _add_consume(parser: argparse.ArgumentParser) -> None:
    from cqrs.consumers._cli import add_consume_arguments

    add_consume_arguments(parser)


def _run_consume(args: argparse.Namespace) -> int:
    from cqrs.consumers._cli import run_consume

    return run_consume(args)


def _add_diagram(parser: argparse.ArgumentParser) -> None:
    from cqrs._diagram_cli import add_diagram_arguments

    add_diagram_arguments(parser)


def _run_diagram(args: argparse.Namespace) -> int:
    from cqrs._diagram_cli import run_diagram

    return run_diagram(args)


_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], _Run]] = {
    "plugins": (
        "list the installed cqrs plugins and their URL schemes",
        _add_plugins,
        _run_plugins,
    ),
    "relay": (
        "relay events from a transactional outbox to a message broker until stopped",
        _add_relay,
        _run_relay,
    ),
    "outbox": (
        "show outbox stats and dead letters; replay or discard dead letters",
        _add_outbox,
        _run_outbox,
    ),
    "saga": (
        "run a recovery worker that resumes or compensates interrupted sagas",
        _add_saga,
        _run_saga,
    ),
    "consume": (
        "consume events from a broker into their handlers until stopped",
        _add_consume,
        _run_consume,
    ),
    "diagram": (
        "print the Mermaid diagram of a saga or a chain of responsibility",
        _add_diagram,
        _run_diagram,
    ),
}
"""Each subcommand: its help, the function adding its arguments and the one running it."""
