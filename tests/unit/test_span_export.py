"""What the server hands its span exporter process: only the steps that make spans, and
from them the exporter builds exactly the spans the server would have built itself."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentspan.server.observability.span_export import decode, encode, project
from agentspan.server.observability.tracing import CONTENT_EVENTS, SPAN_EVENTS, TracingObserver
from agentspan.server.observers import StepCommitted

from support.traced_turn import TURN, step


def spans(notes: list[StepCommitted], capture: bool) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    observer = TracingObserver(SimpleSpanProcessor(exporter), capture_content=capture)
    for note in notes:
        observer.observe_now(note)
    return list(exporter.get_finished_spans())


def described(found: list[ReadableSpan]) -> list[tuple[object, ...]]:
    return [
        (
            s.name,
            s.context.trace_id,
            s.context.span_id,
            s.parent and s.parent.span_id,
            s.start_time,
            s.end_time,
            dict(s.attributes or {}),
            s.status.status_code,
        )
        for s in found
    ]


def test_steps_that_make_no_span_are_not_sent() -> None:
    assert project(TURN[0], SPAN_EVENTS) is None
    assert project(step([("error", {"content": "retrying"})]), SPAN_EVENTS) is None
    assert project(step([("message", {"content": "hi"})]), SPAN_EVENTS | CONTENT_EVENTS) is None


def test_an_ending_step_is_sent_even_without_span_events() -> None:
    ended = step([("error", {"content": "boom"})], after="FAILED")
    record = project(ended, SPAN_EVENTS)
    assert record is not None and [e[0] for e in record[-1]] == ["error"]


def test_contents_are_sent_only_when_captured() -> None:
    plain, captured = project(TURN[3], SPAN_EVENTS), project(TURN[3], SPAN_EVENTS | CONTENT_EVENTS)
    assert plain is not None and captured is not None
    assert [e[0] for e in plain[-1]] == ["llm_call"]
    assert [e[0] for e in captured[-1]] == ["llm_call", "done"]
    assert "Rain in Oslo" not in encode([plain]).decode()


def test_the_exporter_builds_the_same_spans_as_the_server_would() -> None:
    for capture in (False, True):
        wanted = SPAN_EVENTS | CONTENT_EVENTS if capture else SPAN_EVENTS
        records = [r for r in (project(n, wanted) for n in TURN) if r is not None]
        line = encode(records)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        direct, piped = spans(TURN, capture), spans(decode(line), capture)
        assert [s.name for s in direct] == [
            "chat gpt-4o",
            "execute_tool forecast",
            "chat gpt-4o",
            "invoke_agent weather",
        ]
        assert described(piped) == described(direct)
