"""The scripted model: replies from a list of turns carried in the agent spec.

``Agent(model=ScriptedModel([...]))`` puts the turns in the spec (``scriptedTurns``); the
server answers model call N with turn N, where N is the number of assistant messages
already in the conversation. Because the position comes from the durable conversation, a
run that crashes and resumes continues with the right turn.

A turn is ``{"text": str}`` or ``{"toolCalls": [{"name", "arguments"}]}`` (``arguments``
is a JSON object, or a string sent verbatim, e.g. to test malformed arguments).
"""

from __future__ import annotations

import json
from typing import Any

from agentspan.server.providers.base import (
    DeltaCallback,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
)


class ScriptedProvider:
    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        turns = request.options.get("scriptedTurns")
        if not isinstance(turns, list):
            raise ProviderError(
                "scripted models need their turns in the agent spec: use "
                "Agent(model=ScriptedModel([...])) from agentspan.agents.testing",
                retryable=False,
            )
        index = sum(1 for m in request.messages if m["role"] == "assistant")
        if index >= len(turns):
            raise ProviderError(
                f"the scripted model ran out of turns: call {index + 1} but only {len(turns)} scripted",
                retryable=False,
            )
        reply = _reply(turns[index], index)
        if on_delta is not None and reply.content:
            on_delta(reply.content)
        return reply

    async def aclose(self) -> None:
        """Nothing to release."""


def _reply(turn: Any, index: int) -> LlmResponse:
    usage = LlmUsage(prompt_tokens=0, completion_tokens=0)
    if isinstance(turn, dict) and "toolCalls" in turn:
        calls = []
        for n, call in enumerate(turn["toolCalls"]):
            arguments = call.get("arguments", {})
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
            calls.append(LlmToolCall(id=f"scripted_{index}_{n}", name=str(call["name"]), arguments=raw))
        return LlmResponse(
            content=turn.get("text"), tool_calls=calls, usage=usage, finish_reason="tool_calls"
        )
    if isinstance(turn, dict) and "text" in turn:
        return LlmResponse(content=str(turn["text"]), usage=usage, finish_reason="stop")
    raise ProviderError(
        f"scripted turn {index + 1} is not a text or toolCalls turn: {turn!r}", retryable=False
    )
