"""`CqrsInstrumentor`: installs tracing in every mediator, relay and consumer of the process,
the way opentelemetry-python-contrib's instrumentors do (`opentelemetry-instrument` finds it
through the `opentelemetry_instrumentor` entry point)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from cqrs.interception import register, unregister
from cqrs_opentelemetry.interceptor import TracingInterceptor

__all__ = ["CqrsInstrumentor"]


class CqrsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """`CqrsInstrumentor().instrument(tracer_provider=...)` registers a `TracingInterceptor`
    process-wide (objects built before and after it are traced); `uninstrument()` removes it.
    Both are idempotent, as for every OpenTelemetry instrumentor."""

    _interceptor: TracingInterceptor | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("cqrs-core >= 0.1",)

    def _instrument(self, **kwargs: Any) -> None:
        self._interceptor = TracingInterceptor(tracer_provider=kwargs.get("tracer_provider"))
        register(self._interceptor)

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._interceptor is not None:
            unregister(self._interceptor)
            self._interceptor = None

    @property
    def interceptor(self) -> TracingInterceptor | None:
        """The registered interceptor while instrumented."""
        return self._interceptor
