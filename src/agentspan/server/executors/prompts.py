"""The provider-neutral request for an agent's next model call."""

from __future__ import annotations

from typing import Any, cast

from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.specs import offered_tools
from agentspan.server.memory import memory_instructions
from agentspan.server.providers import LlmRequest, LlmToolSpec

PLANNING_INSTRUCTIONS = (
    "Before acting, write a short numbered plan of the steps you will take to handle the "
    "request (which tools or agents you will use and why). Do not carry it out yet."
)


def instructions_of(spec: AgentConfig) -> str | None:
    """The system text of every model call: the agent's instructions (when they are text)
    and its memory's system messages, which stay in force however the conversation is
    trimmed."""
    instructions = spec.instructions if isinstance(spec.instructions, str) else None
    if spec.memory is None:
        return instructions
    return "\n\n".join(p for p in (instructions, *memory_instructions(spec)) if p) or None


def with_signal(messages: list[ChatMessage], signal: str) -> list[ChatMessage]:
    """The conversation with the operator's standing signal (``/signal``) before the text
    of its last user message, as the reference does (``[SIGNALS]...[/SIGNALS]``). Only
    this call's copy changes: the stored conversation never holds the signal."""
    if not signal:
        return messages
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if message["role"] == "user":
            shown = dict(message)
            shown["content"] = f"[SIGNALS]\n{signal}\n[/SIGNALS]\n\n{message.get('content') or ''}"
            return [*messages[:i], cast(ChatMessage, shown), *messages[i + 1 :]]
    return [*messages, {"role": "user", "content": f"[SIGNALS]\n{signal}\n[/SIGNALS]"}]


def scripted_after_history(spec: AgentConfig, remembered_replies: int) -> AgentConfig:
    """A scripted model picks turn N from the N assistant messages already in the
    conversation; replies remembered from memory or a session are not its turns, so the
    script is shifted past them (with empty turns that are never answered)."""
    if spec.scripted_turns is None or remembered_replies <= 0:
        return spec
    padding: list[dict[str, Any]] = [{"text": ""}] * remembered_replies
    return spec.model_copy(update={"scripted_turns": [*padding, *spec.scripted_turns]})


def build_request(
    spec: AgentConfig, model_name: str, messages: list[ChatMessage], *, planning: bool = False
) -> LlmRequest:
    """The provider-neutral request for the next model call of an agent."""
    thinking = spec.thinking_config
    budget = thinking.budget_tokens if thinking is not None and thinking.enabled else None
    options: dict[str, Any] = {}
    if spec.scripted_turns is not None:
        options["scriptedTurns"] = spec.scripted_turns
    if spec.llm_options is not None:
        options.update(spec.llm_options)
    instructions = instructions_of(spec)
    return LlmRequest(
        model=model_name,
        messages=messages,
        tools=[]
        if planning
        else [LlmToolSpec(t.name, t.description, t.input_schema) for t in offered_tools(spec)],
        instructions="\n\n".join(p for p in (instructions, PLANNING_INSTRUCTIONS) if p)
        if planning
        else instructions,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        output_schema=None if planning else (spec.output_type or {}).get("schema"),
        thinking_budget_tokens=int(budget) if isinstance(budget, int | float) else None,
        options=options,
    )
