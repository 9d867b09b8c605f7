"""`TraceContextFilter`: every log record emitted inside a traced operation names its trace,
span, correlation and causation ids, so logs and traces join up in any backend."""

from __future__ import annotations

import logging

from opentelemetry import trace

from cqrs import correlation

__all__ = ["TraceContextFilter"]


class TraceContextFilter(logging.Filter):
    """Adds `trace_id` and `span_id` (hex, empty outside a span), `correlation_id` and
    `causation_id` (empty outside a scope) to each record; it never drops a record.

    Attach it to a handler and use the fields in its format::

        handler.addFilter(TraceContextFilter())
        handler.setFormatter(logging.Formatter("%(message)s trace=%(trace_id)s"))
    """

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        valid = span_context.is_valid
        record.trace_id = format(span_context.trace_id, "032x") if valid else ""
        record.span_id = format(span_context.span_id, "016x") if valid else ""
        record.correlation_id = correlation.current_correlation_id() or ""
        record.causation_id = correlation.current_message_id() or ""
        return True
