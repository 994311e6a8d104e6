"""``record`` and ``replay``: an :class:`AgentResult` saved to, and loaded from, a JSON file."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from agentspan.agents._result import AgentEvent, AgentResult, FinishReason, Status, TokenUsage

__all__ = ["record", "replay"]

# Event fields written only when set (``None`` means "not part of this event").
_OPTIONAL_EVENT_FIELDS = (
    "content",
    "tool_name",
    "args",
    "result",
    "target",
    "output",
    "guardrail_name",
    "call_id",
    "pending_tool",
    "data",
)
# Fields whose default is a falsy value rather than None.
_DEFAULTED_EVENT_FIELDS = ("execution_id", "id", "timestamp")


def _jsonable(value: Any) -> Any:
    # Outputs may be pydantic models or dataclasses: keep their JSON form; anything with
    # no JSON form at all is written as its str().
    return to_jsonable_python(value, fallback=str)


def _event_to_json(event: AgentEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event.type}
    for name in _OPTIONAL_EVENT_FIELDS:
        value = getattr(event, name)
        if value is not None:
            body[name] = value
    for name in _DEFAULTED_EVENT_FIELDS:
        value = getattr(event, name)
        if value:
            body[name] = value
    return body


def _finish_reason_text(reason: FinishReason | str | None) -> str | None:
    return reason.value if isinstance(reason, FinishReason) else reason


def record(result: AgentResult, path: str | os.PathLike[str]) -> None:
    """Write ``result`` to ``path`` as JSON (parent directories are created); see :func:`replay`.

    The document has ``output``, ``execution_id``, ``messages``, ``tool_calls``, ``status``,
    ``metadata`` and ``events``, plus ``correlation_id``, ``finish_reason``, ``token_usage``,
    ``error`` and ``sub_results`` when set.
    """
    doc: dict[str, Any] = {
        "output": result.output,
        "execution_id": result.execution_id,
        "messages": result.messages,
        "tool_calls": result.tool_calls,
        "status": result.status,
        "metadata": result.metadata,
        "events": [_event_to_json(e) for e in result.events],
    }
    optional: dict[str, Any] = {
        "correlation_id": result.correlation_id,
        "finish_reason": _finish_reason_text(result.finish_reason),
        "token_usage": dataclasses.asdict(result.token_usage) if result.token_usage is not None else None,
        "error": result.error,
        "sub_results": result.sub_results or None,
    }
    doc.update({key: value for key, value in optional.items() if value is not None})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n", encoding="utf-8")


def _event_from_json(body: dict[str, Any]) -> AgentEvent:
    fields = {name: body.get(name) for name in _OPTIONAL_EVENT_FIELDS}
    return AgentEvent(
        type=str(body.get("type", "")),
        execution_id=str(body.get("execution_id") or ""),
        id=int(body.get("id") or 0),
        timestamp=int(body.get("timestamp") or 0),
        **fields,
    )


def _finish_reason(raw: Any) -> FinishReason | str | None:
    if raw is None:
        return None
    try:
        return FinishReason(raw)
    except ValueError:
        return str(raw)  # a reason this SDK has no member for: keep the text


def _token_usage(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, dict):
        return None
    # Every field TokenUsage has (counts, cost, ...); keys it lacks, from a newer SDK, are skipped.
    known = {f.name for f in dataclasses.fields(TokenUsage)}
    return TokenUsage(**{key: value for key, value in raw.items() if key in known})


def replay(path: str | os.PathLike[str]) -> AgentResult:
    """Load an :class:`AgentResult` written by :func:`record`.

    Raises:
        ValueError: the file is not a JSON object as :func:`record` writes it.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{os.fspath(path)}: not a recorded AgentResult ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{os.fspath(path)}: not a recorded AgentResult (expected a JSON object)")
    return AgentResult(
        output=doc.get("output"),
        execution_id=str(doc.get("execution_id") or ""),
        correlation_id=doc.get("correlation_id"),
        messages=list(doc.get("messages") or []),
        tool_calls=list(doc.get("tool_calls") or []),
        status=str(doc.get("status") or Status.COMPLETED.value),
        token_usage=_token_usage(doc.get("token_usage")),
        metadata=dict(doc.get("metadata") or {}),
        finish_reason=_finish_reason(doc.get("finish_reason")),
        error=doc.get("error"),
        events=[_event_from_json(e) for e in doc.get("events") or []],
        sub_results=dict(doc.get("sub_results") or {}),
    )
