"""Creates (or reuses) the separate environment holding python-cqrs 5.3.0.

Both distributions install as `cqrs`, so python-cqrs lives in its own venv, built with uv from
the machine's Python 3.11 (never a downloaded interpreter).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["PYCQRS_REQUIREMENTS", "PYCQRS_VERSION", "ensure_env"]

PYCQRS_VERSION = "5.3.0"
PYCQRS_REQUIREMENTS = [f"python-cqrs[sqlalchemy,rabbit,kafka]=={PYCQRS_VERSION}", "asyncpg"]
"""The relay benchmark needs python-cqrs's SQLAlchemy outbox, its RabbitMQ and Kafka brokers."""

_VERSION_CODE = (
    "import importlib.metadata as m, aio_pika, aiokafka, asyncpg, sqlalchemy; "
    "print(m.version('python-cqrs'))"
)


def _installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", _VERSION_CODE], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_env(root: Path) -> Path:
    """The interpreter of a venv at `root` with python-cqrs 5.3.0 and its extras, built if needed.

    A venv from an older run that lacks the extras gets them installed; it is not rebuilt.
    """
    python = root / "bin" / "python"
    if _installed_version(python) == PYCQRS_VERSION:
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("bench: `uv` is not on PATH; it is needed to build the python-cqrs venv")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    if not python.exists():
        print(f"bench: creating {root} with python-cqrs=={PYCQRS_VERSION}", flush=True)
        subprocess.run([uv, "venv", "--python", "3.11", str(root)], env=env, check=True)
    print(f"bench: installing {' '.join(PYCQRS_REQUIREMENTS)} into {root}", flush=True)
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), *PYCQRS_REQUIREMENTS],
        env=env,
        check=True,
    )
    if _installed_version(python) != PYCQRS_VERSION:
        raise SystemExit(f"bench: python-cqrs {PYCQRS_VERSION} did not install into {root}")
    return python
