"""``agentspan.agents.tracing``: the reference's helpers, with and without OpenTelemetry."""

from __future__ import annotations

import importlib.util

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentspan.agents import is_tracing_enabled, tracing


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The helpers ask the global API for a tracer; give them this provider's.
    monkeypatch.setattr("opentelemetry.trace.get_tracer", provider.get_tracer)
    return exporter


def test_agent_run_span_has_the_references_attributes_and_status(spans: InMemorySpanExporter) -> None:
    assert is_tracing_enabled()
    with tracing.trace_agent_run("writer", "a prompt", model="openai/gpt-4o", session_id="s1") as span:
        assert span is not None
        tracing.record_token_usage(span, 10, 5, 15)
    (done,) = spans.get_finished_spans()
    assert done.name == "agent.run" and done.status.status_code is StatusCode.OK
    assert done.instrumentation_scope is not None and done.instrumentation_scope.name == "agentspan.agents"
    attrs = dict(done.attributes or {})
    assert attrs["agent.name"] == "writer" and attrs["agent.prompt_length"] == len("a prompt")
    assert attrs["agent.session_id"] == "s1" and attrs["llm.total_tokens"] == 15
    assert "a prompt" not in attrs.values()


def test_a_failure_inside_a_span_marks_it_error_and_propagates(spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), tracing.trace_tool_call("a", "search", {"q": "x" * 5000}):
        raise RuntimeError("boom")
    (done,) = spans.get_finished_spans()
    assert done.status.status_code is StatusCode.ERROR
    assert len(str((done.attributes or {})["tool.args"])) == 1000


def test_every_helper_yields_none_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def hidden(name: str, *args: object) -> object:
        return None if name.startswith("opentelemetry") else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    assert not is_tracing_enabled()
    for helper in (
        tracing.trace_agent_run("a", "p"),
        tracing.trace_compile("a"),
        tracing.trace_llm_call("a", "m"),
        tracing.trace_tool_call("a", "t"),
        tracing.trace_handoff("a", "b"),
    ):
        with helper as span:
            assert span is None
    tracing.record_token_usage(None, 1, 2, 3)  # a no-op on None
