"""Project automation: lint, typecheck, per-package tests, cross-package tests, docs, bench.

Every session gets its own environment synced from the committed `uv.lock`, so a package's
tests see only that package, its declared dependencies and its test group.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests", "rabbitmq_compat", "integration", "docs"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PYTHON = "3.11"


def _workspace_packages() -> list[str]:
    """Distribution names of the workspace members under packages/ (discovered, not listed)."""
    names = []
    for project in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        names.append(tomllib.loads(project.read_text())["project"]["name"])
    return names


def _sync(session: nox.Session, *args: str) -> None:
    """Sync this session's own virtualenv from the lock file with `uv sync` arguments `args`."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install("uv", "sync", "--frozen", "--exact", *args, env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    _sync(session, "--no-install-workspace", "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on every package's src, on the examples (the test group holds the libraries
    they import), then the typing checks of the public API."""
    groups = ["--group", "typecheck", "--group", "test"]
    _sync(session, "--all-packages", "--no-default-groups", *groups)
    sources = [str(p) for p in sorted((ROOT / "packages").glob("*/src"))]
    session.run("mypy", *sources)
    session.run("mypy", "examples")
    session.run("mypy", "tests/typing")


@nox.session(python=PYTHON)
@nox.parametrize("package", _workspace_packages())
def tests(session: nox.Session, package: str) -> None:
    """One package's own tests, in an environment holding only it, its deps and its test group."""
    _sync(session, "--package", package, "--no-default-groups", "--group", "test")
    tests_dir = ROOT / "packages" / package / "tests"
    session.run("python", "-m", "pytest", str(tests_dir), *session.posargs)


def _lowest_allowed(package: str, names: tuple[str, ...]) -> list[str]:
    """`name==<lower bound>` for each of `names` among the dependencies of `package`."""
    project = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    pins = []
    for requirement in project["project"]["dependencies"]:
        match = re.match(r"([A-Za-z0-9._-]+)\s*.*?>=\s*([0-9][^,;\s]*)", requirement)
        if match and match[1] in names:
            pins.append(f"{match[1]}=={match[2]}")
    return pins


@nox.session(python=PYTHON)
@nox.parametrize("stack", ["lowest", "locked"])
def rabbitmq_compat(session: nox.Session, stack: str) -> None:
    """cqrs-rabbitmq's tests with the oldest aio-pika and aiormq its pyproject allows (and the
    pamqp they pull), then with the locked ones: the versions its fast frame writer
    (`cqrs_rabbitmq._frames.TESTED_VERSIONS`) is used with. Needs RabbitMQ."""
    _sync(session, "--package", "cqrs-rabbitmq", "--no-default-groups", "--group", "test")
    if stack == "lowest":
        session.install(*_lowest_allowed("cqrs-rabbitmq", ("aio-pika", "aiormq")))
    session.run(
        "python", "-c",
        "from importlib.metadata import version as v; "
        "print(*(f'{n} {v(n)}' for n in ('aio-pika', 'aiormq', 'pamqp')), sep=', ')",
    )  # fmt: skip
    tests_dir = ROOT / "packages" / "cqrs-rabbitmq" / "tests"
    session.run("python", "-m", "pytest", str(tests_dir), *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Cross-package tests under tests/ against the whole workspace and real services."""
    _sync(session, "--all-packages", "--no-default-groups", "--group", "test")
    session.run("python", "-m", "pytest", "tests", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly (broken links and warnings fail)."""
    _sync(session, "--all-packages", "--no-default-groups", "--group", "docs")
    site = str(Path(session.create_tmp()) / "site")
    session.run("mkdocs", "build", "--strict", "--site-dir", site, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with python-cqrs 5.3.0 (installed in its own environment)."""
    _sync(session, "--all-packages", "--no-default-groups", "--group", "test")
    session.run(
        "python", "bench/run.py", "--chaos", *session.posargs, env={"UV_PYTHON_DOWNLOADS": "never"}
    )


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Hostile input through every consumer runner, 10,000 hypothesis cases each (not a default
    session: the normal test run has a few hundred per runner). Needs RabbitMQ; Kafka is tansu.
    """
    _sync(session, "--all-packages", "--no-default-groups", "--group", "test")
    cases = os.environ.get("CQRS_FUZZ_CASES", "10000")
    session.run(
        "python", "-m", "pytest", "tests/consumer/test_fuzz.py", *session.posargs,
        env={"CQRS_FUZZ_CASES": cases},
    )  # fmt: skip


PROTO_DIRS = ["examples", "packages/cqrs-protobuf/tests/protos"]
"""Directories whose `.proto` files have their generated `_pb2.py`/`_pb2.pyi` committed beside."""


@nox.session(python=PYTHON)
def protos(session: nox.Session) -> None:
    """Regenerate the committed protobuf code of the examples and tests with grpcio-tools."""
    _sync(session, "--no-install-workspace", "--only-group", "protos")
    for directory in PROTO_DIRS:
        for proto in sorted((ROOT / directory).glob("*.proto")):
            out = str(proto.parent)
            session.run(
                "python", "-m", "grpc_tools.protoc", f"-I{out}", f"--python_out={out}",
                f"--pyi_out={out}", str(proto),
            )  # fmt: skip


if os.environ.get("CI"):
    nox.options.reuse_existing_virtualenvs = False
