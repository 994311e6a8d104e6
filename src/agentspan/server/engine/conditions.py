"""Declarative stop and handoff conditions, evaluated on the server (pure).

The SDK serialises ``TerminationCondition`` trees and handoff conditions into the agent
spec, which validates them into typed models (an unknown kind is refused there, so none
reaches the engine). This module evaluates them against real data: the latest answer,
the messages so far, the iteration and the token usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentspan.protocol.spec import (
    CombinedSpec,
    HandoffSpec,
    MaxMessageSpec,
    OnTextMentionSpec,
    OnToolResultSpec,
    StopMessageSpec,
    TerminationSpec,
    TextMentionSpec,
    TokenUsageSpec,
)


@dataclass(frozen=True, slots=True)
class TerminationContext:
    result: str
    message_count: int
    iteration: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def should_terminate(condition: TerminationSpec | None, ctx: TerminationContext) -> str | None:
    """The reason to stop, or ``None`` to go on."""
    match condition:
        case None:
            return None
        case CombinedSpec(type="and", conditions=conditions):
            reasons = [should_terminate(c, ctx) for c in conditions]
            return " AND ".join(r for r in reasons if r) if reasons and all(reasons) else None
        case CombinedSpec(conditions=conditions):  # "or": the first that holds
            for c in conditions:
                reason = should_terminate(c, ctx)
                if reason:
                    return reason
            return None
        case TextMentionSpec():
            return _text_mention(condition, ctx)
        case StopMessageSpec():
            stop = "TERMINATE" if condition.stop_message is None else condition.stop_message
            return f"the answer is the stop message {stop!r}" if ctx.result.strip() == stop else None
        case MaxMessageSpec():
            limit = condition.max_messages
            count = ctx.message_count or ctx.iteration
            return f"{count} messages reached the limit of {limit}" if count >= limit else None
        case TokenUsageSpec():
            return _token_usage(condition, ctx)


def _text_mention(condition: TextMentionSpec, ctx: TerminationContext) -> str | None:
    text = condition.text
    if not text:
        return None
    found = text in ctx.result if condition.case_sensitive else text.lower() in ctx.result.lower()
    return f"the answer mentions {text!r}" if found else None


def _token_usage(condition: TokenUsageSpec, ctx: TerminationContext) -> str | None:
    for key, limit, used in (
        ("maxTotalTokens", condition.max_total_tokens, ctx.total_tokens),
        ("maxPromptTokens", condition.max_prompt_tokens, ctx.prompt_tokens),
        ("maxCompletionTokens", condition.max_completion_tokens, ctx.completion_tokens),
    ):
        if limit is not None and used >= limit:
            return f"token usage {used} reached {key}={limit}"
    return None


def text_handoff(handoffs: Sequence[HandoffSpec] | None, answer: str, active: str) -> str | None:
    """The target of the first ``on_text_mention`` handoff the answer triggers."""
    lowered = answer.lower()
    for handoff in handoffs or ():
        if (
            isinstance(handoff, OnTextMentionSpec)
            and handoff.text
            and handoff.target != active
            and handoff.text.lower() in lowered
        ):
            return handoff.target
    return None


def tool_result_handoff(
    handoffs: Sequence[HandoffSpec] | None, tool_name: str, result: Any, active: str
) -> str | None:
    """The target of the first ``on_tool_result`` handoff a tool result triggers."""
    for handoff in handoffs or ():
        if not isinstance(handoff, OnToolResultSpec):
            continue
        if handoff.target == active or handoff.tool_name != tool_name:
            continue
        contains = handoff.result_contains
        if contains is None or contains in str(result):
            return handoff.target
    return None
