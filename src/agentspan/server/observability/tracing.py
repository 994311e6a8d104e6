"""OpenTelemetry traces (opt-in), built from committed steps.

Switched on by ``AGENTSPAN_OTEL_ENDPOINT`` (an OTLP/HTTP base URL such as
``http://collector:4318``) or the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_ENDPOINT`` (headers from ``OTEL_EXPORTER_OTLP_HEADERS``, service name
from ``OTEL_SERVICE_NAME``); needs ``pip install 'agentspan[otel]'``. Set without the
package installed, the server refuses to start rather than silently not tracing.

Spans, with the GenAI semantic conventions' names and attributes:

- ``invoke_agent <agent>`` per execution, from its start to its end; a sub-agent's span is
  a child of its parent execution's;
- ``chat <model>`` per model reply (``gen_ai.request.model``, ``gen_ai.usage.*_tokens``,
  ``gen_ai.response.finish_reasons``), from the ``llm_call`` event;
- ``execute_tool <tool>`` per tool call, from its ``tool_call`` to its ``tool_result``;
  a worker continues it: its task carries the call's ``traceparent``.

Spans are built and exported in a child process, fed by the server over a pipe
(``span_export.py``): the server's event loop pays only for picking the steps that make
spans. A span is emitted once, when what ends it commits, with ids derived from the store's
names (``trace_ids.py``), so replicas and restarts agree on them without shared memory.
Contents (the reply's text, tool arguments and results, the final output) are attached
only with ``AGENTSPAN_OTEL_CAPTURE_CONTENT=1``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import agentspan
from agentspan.server.observability import trace_ids
from agentspan.server.observers import Notification, StepCommitted
from agentspan.server.store.base import EventRow

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

    from agentspan.server.observability.span_export import SpanForwarder

log = logging.getLogger("agentspan.server.tracing")

_MAX_OPEN_CALLS = 10_000
_MAX_CONTENT = 8_000
_ERROR_STATUSES = frozenset({"FAILED", "TIMED_OUT"})
TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"})
SPAN_EVENTS = frozenset({"llm_call", "tool_call", "tool_result", "error"})
"""The event types spans are built from; ``CONTENT_EVENTS`` are read only for captured
contents. The exporter process is sent only these (``span_export.py``)."""
CONTENT_EVENTS = frozenset({"message", "done"})
INSTALL = "pip install 'agentspan[otel]'"


def endpoint_from_env() -> str | None:
    """The traces URL to export to, or None when tracing is off."""
    ours = os.environ.get("AGENTSPAN_OTEL_ENDPOINT", "").strip()
    if ours:
        return ours if ours.rstrip("/").endswith("/v1/traces") else ours.rstrip("/") + "/v1/traces"
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return base.rstrip("/") + "/v1/traces" if base else None


def capture_content_from_env() -> bool:
    return os.environ.get("AGENTSPAN_OTEL_CAPTURE_CONTENT", "").strip().lower() in ("1", "true", "yes", "on")


def tracing_observer() -> SpanForwarder | None:
    """The observer exporting over OTLP/HTTP when configured; refuses a setting it cannot
    honour. Spans are built and exported in a child process (``span_export.py``)."""
    url = endpoint_from_env()
    if url is None:
        return None
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace.export  # noqa: F401
    except ImportError:
        raise ValueError(
            f"tracing is configured (OTLP endpoint {url}) but OpenTelemetry is not installed: {INSTALL}"
        ) from None
    from agentspan.server.observability.span_export import SpanForwarder

    return SpanForwarder(url, capture_content_from_env())


class TracingObserver:
    """Turns committed steps into finished spans handed to ``processor`` (in the exporter
    process, or in the server itself when a test hands it an in-memory exporter)."""

    def __init__(self, processor: SpanProcessor, capture_content: bool = False) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        # Resolved once: ``_emit`` runs for every span, and an import statement per call
        # showed in the server's profile.
        self._span_type = ReadableSpan
        self._context_type = SpanContext
        self._kinds = {"client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}
        self._flags = TraceFlags(TraceFlags.SAMPLED)
        self._ok = Status(StatusCode.UNSET)
        self._error_code = StatusCode.ERROR
        self._status_type = Status
        self.processor = processor
        self.capture = capture_content
        self.dropped = 0
        """Always 0: this builder drops nothing (the processor's own queue may)."""
        name = os.environ.get("OTEL_SERVICE_NAME") or "agentspan-server"
        self._resource = Resource.create({"service.name": name, "service.version": agentspan.__version__})
        self._scope = InstrumentationScope("agentspan.server", agentspan.__version__)
        self._calls: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        """``(execution, call id)`` -> when the call was asked for, and its arguments."""

    def observe_now(self, note: Notification) -> None:
        if isinstance(note, StepCommitted):
            self._step(note)

    def shutdown(self) -> None:
        self.processor.shutdown()

    def _step(self, note: StepCommitted) -> None:
        for event in note.events:
            if event.type == "llm_call":
                self._chat(note, event)
            elif event.type == "tool_call":
                self._tool_called(note, event)
            elif event.type == "tool_result":
                self._tool_done(note, event)
        if note.status_after in TERMINAL and note.status_before not in TERMINAL:
            self._execution(note)

    # --- spans ------------------------------------------------------------------------

    def _execution(self, note: StepCommitted) -> None:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": note.agent_name,
            "agentspan.execution.id": note.execution_id,
            "agentspan.execution.status": note.status_after,
        }
        error = None
        for event in note.events:
            doc = _payload(event)
            if event.type == "done" and self.capture:
                attrs["gen_ai.output.messages"] = _text(doc.get("output"))
            if event.type == "error":
                error = str(doc.get("content") or note.status_after)
        parent = trace_ids.execution_span(note.parent_id) if note.parent_id else None
        self._emit(
            f"invoke_agent {note.agent_name}",
            note.root_id,
            trace_ids.execution_span(note.execution_id),
            parent,
            note.started_at,
            note.at,
            attrs,
            kind="internal",
            error=error if note.status_after in _ERROR_STATUSES else None,
        )

    def _chat(self, note: StepCommitted, event: EventRow) -> None:
        doc = _payload(event)
        data = doc.get("data") or {}
        model = str(data.get("model") or "")
        provider, _, name = model.partition("/")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": name or model,
            "gen_ai.usage.input_tokens": int(data.get("promptTokens") or 0),
            "gen_ai.usage.output_tokens": int(data.get("completionTokens") or 0),
            "agentspan.execution.id": note.execution_id,
        }
        if data.get("finishReason"):
            attrs["gen_ai.response.finish_reasons"] = [str(data["finishReason"])]
        if data.get("costUsd") is not None:
            attrs["agentspan.cost_usd"] = float(data["costUsd"])
        if self.capture:
            replies = [_payload(e).get("content") for e in note.events if e.type == "message"]
            replies += [_payload(e).get("output") for e in note.events if e.type == "done"]
            if replies:
                attrs["gen_ai.output.messages"] = _text(replies[0])
        latency = float(data.get("latencyMs") or 0.0) / 1000
        self._emit(
            f"chat {name or model}",
            note.root_id,
            trace_ids.model_span(note.execution_id, event.seq),
            trace_ids.execution_span(note.execution_id),
            event.ts - latency,
            event.ts,
            attrs,
            kind="client",
        )

    def _tool_called(self, note: StepCommitted, event: EventRow) -> None:
        doc = _payload(event)
        key = (note.execution_id, str(doc.get("call_id")))
        self._calls[key] = (event.ts, doc.get("args") if self.capture else None)
        if len(self._calls) > _MAX_OPEN_CALLS:
            self._calls.popitem(last=False)

    def _tool_done(self, note: StepCommitted, event: EventRow) -> None:
        doc = _payload(event)
        call_id = str(doc.get("call_id"))
        # Asked for on another replica, or before a restart: the span starts at its result.
        started, args = self._calls.pop((note.execution_id, call_id), (event.ts, None))
        tool = str(doc.get("tool_name") or "")
        result = doc.get("result")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": call_id,
            "agentspan.execution.id": note.execution_id,
        }
        if self.capture:
            attrs["gen_ai.tool.call.arguments"] = _text(args)
            attrs["gen_ai.tool.call.result"] = _text(result)
        error = result.get("error") if isinstance(result, dict) and "error" in result else None
        self._emit(
            f"execute_tool {tool}",
            note.root_id,
            trace_ids.tool_span(note.execution_id, call_id),
            trace_ids.execution_span(note.execution_id),
            started,
            event.ts,
            attrs,
            kind="internal",
            error=str(error)[:500] if error is not None else None,
        )

    def _emit(
        self,
        name: str,
        root_id: str,
        span: int,
        parent: int | None,
        start: float,
        end: float,
        attrs: dict[str, Any],
        *,
        kind: str,
        error: str | None = None,
    ) -> None:
        trace = trace_ids.trace_id(root_id)
        context = self._context_type
        parent_ctx = context(trace, parent, is_remote=False, trace_flags=self._flags) if parent else None
        finished = self._span_type(
            name=name,
            context=context(trace, span, is_remote=False, trace_flags=self._flags),
            parent=parent_ctx,
            resource=self._resource,
            attributes=attrs,
            kind=self._kinds[kind],
            status=self._status_type(self._error_code, error) if error is not None else self._ok,
            start_time=int(start * 1e9),
            end_time=int(max(end, start) * 1e9),
            instrumentation_scope=self._scope,
        )
        self.processor.on_end(finished)


def _payload(event: EventRow) -> dict[str, Any]:
    try:
        doc = json.loads(event.payload)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_CONTENT]
