"""Declarative stop conditions, evaluated on the server (pure).

The SDK serialises ``TerminationCondition`` trees to JSON (``termination`` in the agent
spec); this module evaluates them against real data: the latest answer, the messages so
far, the iteration and the token usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TerminationContext:
    result: str
    message_count: int
    iteration: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def should_terminate(config: Any, ctx: TerminationContext) -> str | None:
    """The reason to stop, or ``None`` to go on. Unknown condition types never stop a run."""
    if not isinstance(config, dict):
        return None
    kind = config.get("type")
    if kind in ("and", "or"):
        reasons = [should_terminate(c, ctx) for c in config.get("conditions") or []]
        if kind == "and":
            return " AND ".join(r for r in reasons if r) if reasons and all(reasons) else None
        return next((r for r in reasons if r), None)
    check = _CHECKS.get(str(kind))
    return check(config, ctx) if check is not None else None


def _text_mention(config: dict[str, Any], ctx: TerminationContext) -> str | None:
    text = str(config.get("text", ""))
    if not text:
        return None
    haystack, needle = (
        (ctx.result, text) if config.get("caseSensitive") else (ctx.result.lower(), text.lower())
    )
    return f"the answer mentions {text!r}" if needle in haystack else None


def _stop_message(config: dict[str, Any], ctx: TerminationContext) -> str | None:
    stop = str(config.get("stopMessage", "TERMINATE"))
    return f"the answer is the stop message {stop!r}" if ctx.result.strip() == stop else None


def _max_message(config: dict[str, Any], ctx: TerminationContext) -> str | None:
    limit = int(config.get("maxMessages") or 0)
    count = ctx.message_count or ctx.iteration
    return f"{count} messages reached the limit of {limit}" if limit and count >= limit else None


def _token_usage(config: dict[str, Any], ctx: TerminationContext) -> str | None:
    for key, used in (
        ("maxTotalTokens", ctx.total_tokens),
        ("maxPromptTokens", ctx.prompt_tokens),
        ("maxCompletionTokens", ctx.completion_tokens),
    ):
        limit = config.get(key)
        if isinstance(limit, int) and used >= limit:
            return f"token usage {used} reached {key}={limit}"
    return None


_CHECKS = {
    "text_mention": _text_mention,
    "stop_message": _stop_message,
    "max_message": _max_message,
    "token_usage": _token_usage,
}


def text_handoff(handoffs: Any, answer: str, active: str) -> str | None:
    """The target of the first ``on_text_mention`` handoff the answer triggers."""
    for handoff in handoffs if isinstance(handoffs, list) else []:
        if not isinstance(handoff, dict) or handoff.get("type") != "on_text_mention":
            continue
        text = str(handoff.get("text", ""))
        target = handoff.get("target")
        if text and target and target != active and text.lower() in answer.lower():
            return str(target)
    return None


def tool_result_handoff(handoffs: Any, tool_name: str, result: Any, active: str) -> str | None:
    """The target of the first ``on_tool_result`` handoff a tool result triggers."""
    for handoff in handoffs if isinstance(handoffs, list) else []:
        if not isinstance(handoff, dict) or handoff.get("type") != "on_tool_result":
            continue
        target = handoff.get("target")
        if not target or target == active or handoff.get("toolName") != tool_name:
            continue
        contains = handoff.get("resultContains")
        if contains is None or str(contains) in str(result):
            return str(target)
    return None
