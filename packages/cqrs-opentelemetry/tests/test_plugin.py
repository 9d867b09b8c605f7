"""The `cqrs` entry point: the worker commands instrument themselves through it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cqrs.interception import registered
from cqrs.plugins import get_plugin_manager
from cqrs_opentelemetry import CqrsInstrumentor, TracingInterceptor


@pytest.fixture(autouse=True)
def uninstrumented() -> Iterator[None]:
    CqrsInstrumentor().uninstrument()
    yield
    CqrsInstrumentor().uninstrument()


def tracing() -> list[TracingInterceptor]:
    return [i for i in registered() if isinstance(i, TracingInterceptor)]


def test_the_plugin_is_loaded_from_its_entry_point() -> None:
    names = {name for name, _ in get_plugin_manager().list_name_plugin()}
    assert "opentelemetry" in names


def test_a_starting_worker_is_instrumented_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.delenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", raising=False)
    hook = get_plugin_manager().hook
    hook.cqrs_worker_starting(command="relay")
    hook.cqrs_worker_starting(command="relay")
    assert len(tracing()) == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTEL_SDK_DISABLED", "true"), ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "redis, cqrs")],
)
def test_a_worker_is_not_instrumented_when_the_environment_says_so(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_plugin_manager().hook.cqrs_worker_starting(command="consume")
    assert tracing() == []
