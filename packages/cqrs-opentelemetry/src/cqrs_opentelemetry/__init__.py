"""OpenTelemetry for cqrs: spans on every path, trace context carried through the outbox and
brokers, and log records that name their trace.

Example::

    from cqrs_opentelemetry import CqrsInstrumentor

    CqrsInstrumentor().instrument()   # or run the process under `opentelemetry-instrument`
"""

from __future__ import annotations

from cqrs_opentelemetry.instrumentor import CqrsInstrumentor
from cqrs_opentelemetry.interceptor import TracingInterceptor
from cqrs_opentelemetry.logs import TraceContextFilter
from cqrs_opentelemetry.metrics import INSTRUMENTS, MetricsInterceptor

__version__ = "0.1.0"

__all__ = [
    "INSTRUMENTS",
    "CqrsInstrumentor",
    "MetricsInterceptor",
    "TraceContextFilter",
    "TracingInterceptor",
    "__version__",
]
