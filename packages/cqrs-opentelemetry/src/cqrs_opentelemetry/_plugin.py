"""Hook implementations of the opentelemetry plugin: trace the `cqrs` worker commands."""

from __future__ import annotations

import os

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_worker_starting(command: str) -> None:
    """Instrument `cqrs relay`, `cqrs consume` and `cqrs saga recover` with the global providers
    (those `opentelemetry-instrument` or the application configured), unless
    `OTEL_SDK_DISABLED=true` or `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` names `cqrs`."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    if "cqrs" in {name.strip() for name in disabled.split(",")}:
        return
    from cqrs_opentelemetry.instrumentor import CqrsInstrumentor

    CqrsInstrumentor().instrument()
