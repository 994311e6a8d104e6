"""OpenTelemetry traces from a real server over HTTP: spans built from committed steps,
parented across sub-agents and into the worker, exported in memory and over OTLP/HTTP
to a receiver this test runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool
from agentspan.server.observability import Observability
from agentspan.server.observability.tracing import TracingObserver
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.otlp_receiver import otlp_receiver
from support.servers import ThreadServer

WORKER_SPANS = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def worker_tracer() -> None:
    """This process is also the worker: its OpenTelemetry SDK records the worker's spans."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(WORKER_SPANS))
    trace.set_tracer_provider(provider)  # once per process; later calls are ignored


@tool
def forecast(city: str) -> str:
    """The forecast for a city."""
    return f"{city}: rain"


def traced_server(tmp_path: Path, capture: bool = False) -> tuple[ThreadServer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer = TracingObserver(SimpleSpanProcessor(exporter), capture_content=capture)
    obs = Observability(observers=[tracer], tracing_enabled=True, tracer=tracer)
    return ThreadServer(Settings(data_dir=tmp_path), observability=obs).start(), exporter


def wait_for(exporter: InMemorySpanExporter, name: str, count: int = 1) -> list[ReadableSpan]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        spans = [s for s in exporter.get_finished_spans() if s.name.startswith(name)]
        if len(spans) >= count:
            return spans
        time.sleep(0.05)
    raise AssertionError(f"no {name!r} span among {[s.name for s in exporter.get_finished_spans()]}")


def test_a_pipeline_is_one_trace_with_agent_model_and_tool_spans(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(
        FakeOpenAI.tool_calls([("forecast", {"city": "Bergen"})]),
        FakeOpenAI.text("Rain in Bergen."),
        FakeOpenAI.text("Pack an umbrella."),
    )
    server, exporter = traced_server(tmp_path, capture=True)
    try:
        first = Agent(name="weather", model="openai/gpt-4o", tools=[forecast])
        second = Agent(name="advisor", model="openai/gpt-4o")
        config = AgentConfig(server_url=server.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            result = runtime.run(first >> second, "Bergen?")
        assert result.status == "COMPLETED", result.error
        agents = wait_for(exporter, "invoke_agent", 3)
    finally:
        server.stop()
    by_name = {s.name: s for s in agents}
    root = next(s for s in agents if s.parent is None)
    weather, advisor = by_name["invoke_agent weather"], by_name["invoke_agent advisor"]
    assert weather.parent is not None and advisor.parent is not None
    assert weather.parent.span_id == root.context.span_id == advisor.parent.span_id
    assert {s.context.trace_id for s in exporter.get_finished_spans()} == {root.context.trace_id}
    assert root.start_time is not None and root.end_time is not None and root.start_time <= root.end_time

    chats = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o"]
    assert len(chats) == 3
    first_chat = min(chats, key=lambda s: s.start_time or 0)
    assert first_chat.parent is not None and first_chat.parent.span_id == weather.context.span_id
    attrs = first_chat.attributes or {}
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.provider.name"] == "openai"
    tokens = attrs["gen_ai.usage.input_tokens"]
    assert isinstance(tokens, int) and tokens > 0
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("tool_calls",)  # type: ignore[arg-type]

    (tool_span,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool forecast"]
    assert tool_span.parent is not None and tool_span.parent.span_id == weather.context.span_id
    assert (tool_span.attributes or {})["gen_ai.tool.call.result"] == "Bergen: rain"  # captured on request

    # The worker (this process) continued the call's span over the task's traceparent.
    worker = [s for s in WORKER_SPANS.get_finished_spans() if s.name == "execute_tool forecast"]
    assert worker, "the worker recorded no span"
    assert worker[-1].context.trace_id == root.context.trace_id
    assert worker[-1].parent is not None and worker[-1].parent.span_id == tool_span.context.span_id


def test_contents_stay_out_of_spans_unless_asked_for(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.tool_calls([("forecast", {"city": "Tromsø"})]), FakeOpenAI.text("Snow."))
    server, exporter = traced_server(tmp_path)
    try:
        config = AgentConfig(server_url=server.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            result = runtime.run(Agent(name="quiet", model="openai/gpt-4o", tools=[forecast]), "Tromsø?")
        assert result.status == "COMPLETED", result.error
        wait_for(exporter, "invoke_agent")
    finally:
        server.stop()
    for span in exporter.get_finished_spans():
        values = " ".join(str(v) for v in (span.attributes or {}).values())
        assert "Tromsø" not in values and "Snow" not in values, span.name


def test_spans_reach_an_otlp_http_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "agentspan-under-test")
    with otlp_receiver() as (url, received):
        monkeypatch.setenv("AGENTSPAN_OTEL_ENDPOINT", url)
        server = ThreadServer(Settings(data_dir=tmp_path)).start()
        try:
            config = AgentConfig(server_url=server.api_url, auto_start_server=False)
            with AgentRuntime(config=config) as runtime:
                result = runtime.run(Agent(name="otlp_agent", model="offline/basic"), "hi")
                assert result.status == "COMPLETED"
        finally:
            server.stop()  # the exporter process exports what it holds, then exits
    names = received.span_names()
    assert "invoke_agent otlp_agent" in names
    assert "chat basic" in names
    assert received.services() == {"agentspan-under-test"}


def test_tracing_configured_without_opentelemetry_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from agentspan.server.observability.tracing import tracing_observer

    real_import = builtins.__import__

    def no_otel(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("opentelemetry"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setattr(builtins, "__import__", no_otel)
    with pytest.raises(ValueError, match=r"agentspan\[otel\]"):
        tracing_observer()
    assert os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
