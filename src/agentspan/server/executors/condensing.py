"""Condensing a conversation that no longer fits its model's context window.

Before an agent's model call, the model-call executor (``llm.py``) estimates the size of
the request it is about to send. When the estimate (characters / 3.5, as a rough token
count, plus room for the answer) exceeds the model's window
(``providers/context_windows.py``), it makes a summary call instead and answers the
engine with ``ContextCondensed``; the engine records it as its own step and asks for the
model call again, which is then sent:

    the first user message (the task), kept in place
    + one assistant message "[Earlier conversation condensed] <summary>"
    + the newest messages, in full.

The newest messages kept fill at most half of the budget, and never start with a tool
result (a result always travels with the assistant message that called it). A later
condensing summarises the previous summary together with the messages that followed
it. The stored messages are never rewritten: ``GET …/execution/{id}`` shows all of them;
the state's ``condensed`` says what the model is sent instead.

The estimate can be wrong (another tokenizer, images, a window set too large), so a
provider's own "context too long" refusal (``is_context_overflow``) condenses too: the
executor condenses to a budget below what it had sent (``OVERFLOW_SHRINK``) and the
engine asks for the call again. Each condensing must cover messages the previous one did
not, so a conversation that cannot shrink further fails with the provider's error.

(System text is not a message here: the agent's instructions and its memory's system
messages are sent with every call and never condensed.) Everything here is pure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agentspan.protocol.messages import ChatMessage
from agentspan.server.engine.model import Condensation
from agentspan.server.providers import LlmRequest

CHARS_PER_TOKEN = 3.5
ANSWER_RESERVE_TOKENS = 1_024
"""Room left for the answer when the agent sets no ``max_tokens``."""
RECENT_SHARE = 0.5
"""Share of the budget the newest messages, kept in full, may fill."""
SUMMARY_MAX_TOKENS = 1_024
MESSAGE_CHARS_IN_TRANSCRIPT = 4_000
"""A message longer than this is cut in the transcript the summary model reads."""
OVERFLOW_SHRINK = 0.6
"""After a provider refused a request as too long: condense to this share of its estimate."""
SUMMARY_PREFIX = "[Earlier conversation condensed] "
SUMMARY_INSTRUCTIONS = (
    "You condense the earlier part of a conversation between a user, an AI agent and its "
    "tools, so that the agent can carry on without it. Write a concise summary that keeps "
    "every fact, decision, number, name, tool result and open question the agent may need "
    "later, and the user's goal. Write only the summary."
)


# How providers word "the request does not fit the context window" (OpenAI and the
# OpenAI-compatible family, Anthropic, Gemini and Vertex AI, Bedrock, Cohere, Mistral).
_OVERFLOW = re.compile(
    r"context_length_exceeded|maximum context length|context window|context length"
    r"|prompt is too long|input is too long|too many (?:input )?tokens"
    r"|exceeds the (?:model's )?(?:maximum|max|context)|input token count"
    r"|reduce the length of the (?:messages|prompt)",
    re.IGNORECASE,
)


def is_context_overflow(error: str) -> bool:
    """Whether a provider's (non-retryable) error says the request was too long."""
    return _OVERFLOW.search(error) is not None


def estimated_tokens(request: LlmRequest) -> int:
    """A rough token count of everything a request sends."""
    chars = len(request.instructions or "")
    chars += len(json.dumps(request.messages, default=str))
    chars += sum(
        len(t.name) + len(t.description or "") + len(json.dumps(t.parameters)) for t in request.tools
    )
    return int(chars / CHARS_PER_TOKEN) + 1


def budget_tokens(window: int, max_tokens: int | None) -> int:
    """What the request may take of ``window``: the rest is the answer's."""
    reserve = max_tokens if max_tokens is not None else ANSWER_RESERVE_TOKENS
    return max(window - min(reserve, window // 4), 1)


def summary_message(summary: str) -> ChatMessage:
    return {"role": "assistant", "content": SUMMARY_PREFIX + summary}


def condensed_view(messages: list[ChatMessage], condensed: Condensation | None) -> list[ChatMessage]:
    """What a model call is sent of ``messages`` once ``condensed`` applies."""
    if condensed is None:
        return messages
    kept = [messages[i] for i in condensed.keep if i < len(messages)]
    return [*kept, summary_message(condensed.summary), *messages[condensed.upto :]]


def _tokens(message: ChatMessage) -> int:
    return int(len(json.dumps(message, default=str)) / CHARS_PER_TOKEN) + 1


@dataclass(frozen=True, slots=True)
class Plan:
    upto: int
    keep: list[int]
    covered: list[int]
    """Indexes newly summarised (in ``[start, upto)``, not kept)."""


def plan(messages: list[ChatMessage], condensed: Condensation | None, budget: int) -> Plan | None:
    """Where to cut: the newest messages that fit ``RECENT_SHARE`` of ``budget`` stay, the
    rest (since the last condensing) is summarised. None when nothing can be."""
    start = condensed.upto if condensed is not None else 0
    keep = list(condensed.keep) if condensed is not None else []
    if condensed is None:
        first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
        keep = [first_user] if first_user is not None else []
    room = int(budget * RECENT_SHARE)
    cut = len(messages)
    used = 0
    while cut > start and used + _tokens(messages[cut - 1]) <= room:
        cut -= 1
        used += _tokens(messages[cut])
    if cut == len(messages):
        cut -= 1  # the newest message is always sent, however long
    while cut > start and messages[cut]["role"] == "tool":
        cut -= 1  # a tool result stays with the call that asked for it
    covered = [i for i in range(start, cut) if i not in keep]
    if cut <= start or not covered:
        return None
    return Plan(upto=cut, keep=sorted(keep), covered=covered)


def _line(chat: ChatMessage) -> str:
    message: dict[str, Any] = dict(chat)
    role = str(message["role"])
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content, default=str) if content else ""
    if len(text) > MESSAGE_CHARS_IN_TRANSCRIPT:
        text = text[:MESSAGE_CHARS_IN_TRANSCRIPT] + " […]"
    if role == "tool":
        return f"Tool result ({message.get('name') or message.get('tool_call_id')}): {text}"
    parts = [f"{role.capitalize()}: {text}"] if text else []
    for call in message.get("tool_calls") or []:
        parts.append(f"Assistant called {call['name']} with {call['arguments']}")
    return "\n".join(parts) or f"{role.capitalize()}: (empty)"


def transcript(
    messages: list[ChatMessage], condensed: Condensation | None, covered: list[int], max_chars: int
) -> str:
    """The text the summary model reads: the previous summary, then the covered messages
    (the oldest are dropped first if it is too long for the summary model itself; the
    newest one left is cut rather than dropped, so the summary model always reads some)."""
    lines = [_line(messages[i]) for i in covered]
    head = f"Summary so far: {condensed.summary}" if condensed is not None else ""
    while len(lines) > 1 and len(head) + sum(len(line) + 1 for line in lines) > max_chars:
        lines.pop(0)
    if lines and len(head) + len(lines[0]) + 1 > max_chars:
        lines[0] = lines[0][: max(max_chars - len(head) - 1, 0)] + " […]"
    return "\n".join(p for p in (head, *lines) if p)


def exchanges(messages: list[ChatMessage], covered: list[int]) -> int:
    """User and assistant messages among ``covered`` (what the reference reports)."""
    return sum(1 for i in covered if messages[i]["role"] in ("user", "assistant"))


def summary_request(model_name: str, text: str, options: dict[str, Any]) -> LlmRequest:
    return LlmRequest(
        model=model_name,
        messages=[{"role": "user", "content": text}],
        instructions=SUMMARY_INSTRUCTIONS,
        temperature=0.0,
        max_tokens=SUMMARY_MAX_TOKENS,
        options=options,
    )
