"""`CqrsInstrumentor`: installs tracing in every mediator, relay and consumer of the process,
the way opentelemetry-python-contrib's instrumentors do (`opentelemetry-instrument` finds it
through the `opentelemetry_instrumentor` entry point)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from cqrs.interception import Interceptor, register, unregister
from cqrs_opentelemetry.interceptor import TracingInterceptor
from cqrs_opentelemetry.metrics import MetricsInterceptor

__all__ = ["CqrsInstrumentor"]


class CqrsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """`CqrsInstrumentor().instrument(tracer_provider=..., meter_provider=...)` registers a
    `TracingInterceptor` and a `MetricsInterceptor` process-wide (objects built before and
    after it are covered); `uninstrument()` removes them. Both are idempotent, as for every
    OpenTelemetry instrumentor."""

    _interceptor: TracingInterceptor | None = None
    _metrics: MetricsInterceptor | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("cqrs-core >= 0.1",)

    def _instrument(self, **kwargs: Any) -> None:
        self._interceptor = TracingInterceptor(tracer_provider=kwargs.get("tracer_provider"))
        self._metrics = MetricsInterceptor(meter_provider=kwargs.get("meter_provider"))
        register(self._interceptor)
        register(self._metrics)

    def _uninstrument(self, **kwargs: Any) -> None:
        installed: list[Interceptor | None] = [self._interceptor, self._metrics]
        for interceptor in installed:
            if interceptor is not None:
                unregister(interceptor)
        self._interceptor = self._metrics = None

    @property
    def interceptor(self) -> TracingInterceptor | None:
        """The registered tracing interceptor while instrumented."""
        return self._interceptor

    @property
    def metrics(self) -> MetricsInterceptor | None:
        """The registered metrics interceptor while instrumented."""
        return self._metrics
