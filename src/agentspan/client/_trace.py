"""A worker's span for a tool call, continuing the server's trace (``traceparent``).

Only when the task carries a ``traceparent`` (the server traces) *and* OpenTelemetry is
importable here is anything done; the span goes wherever this process's OpenTelemetry
SDK sends spans; without an SDK set up here, nothing is done either. So a worker without
tracing pays nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def tool_span(name: str, traceparent: str | None, attributes: dict[str, Any]) -> Iterator[Any]:
    """``execute_tool <name>`` as a child of the server's call span; yields the span or None."""
    if not traceparent:
        yield None
        return
    try:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        yield None
        return
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        yield None  # no SDK set up in this process: the span would record nothing
        return
    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    tracer = trace.get_tracer("agentspan.worker")
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, **attributes}
    with tracer.start_as_current_span(f"execute_tool {name}", context=parent, attributes=attrs) as span:
        yield span
