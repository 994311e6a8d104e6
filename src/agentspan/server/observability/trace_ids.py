"""Trace and span ids derived from what the store already names, and W3C ``traceparent``.

Spans are built after the fact from committed steps, possibly by several replicas and
across restarts, so their ids cannot be remembered: they are *derived*. A tree of
executions is one trace (its id is the root execution's UUID); an execution's span, a
tool call's span and a model call's span have ids hashed from the execution id, the
call id or the event's sequence number. Any replica, and the driver writing a worker's
task, therefore names the same span without asking anyone.
"""

from __future__ import annotations

import hashlib
import uuid


def trace_id(root_id: str) -> int:
    try:
        value = uuid.UUID(root_id).int
    except ValueError:
        value = int.from_bytes(hashlib.sha256(root_id.encode()).digest()[:16], "big")
    return value or 1  # the all-zero id is invalid


def span_id(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1


def execution_span(execution_id: str) -> int:
    return span_id("execution", execution_id)


def tool_span(execution_id: str, call_id: str) -> int:
    return span_id("tool", execution_id, call_id)


def model_span(execution_id: str, seq: int) -> int:
    return span_id("chat", execution_id, str(seq))


def traceparent(root_id: str, execution_id: str, call_id: str) -> str:
    """The ``traceparent`` a worker's tool call continues (its parent: the call's span)."""
    return f"00-{trace_id(root_id):032x}-{tool_span(execution_id, call_id):016x}-01"
