"""Typed chat messages (protocol/messages.py): what the engine writes fits the union, and
the edge validator refuses what does not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from agentspan.protocol.messages import CHAT_MESSAGES, ChatMessage
from agentspan.server.engine.model import Start
from agentspan.server.providers.base import LlmRequest
from agentspan.server.providers.openai import build_payload

from support.decide import LOOKUP, NOW, Run, agent, approve, call, tool

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def _conversation() -> list[ChatMessage]:
    """A conversation the engine wrote: media, tool calls, a result, a rejection, a retry
    of a structured answer and a plan."""
    run = Run(agent(LOOKUP, planner=True))
    run.apply(Start(prompt="look", media=["data:image/png;base64,AAAA"], now=NOW))
    run.llm("1. look it up")
    run.llm("checking", call("lookup", {"q": 1}), call("lookup", "not json"))
    run.ok("c1", {"found": True})
    structured = Run(agent(LOOKUP, output_type={"schema": SCHEMA, "className": "N"}))
    structured.start()
    structured.llm('{"n": "no"}')
    gated = Run(agent(tool("lookup", approval_required=True)))
    gated.start()
    gated.llm(None, call("lookup", {}))
    gated.apply(approve(approved=False, reason="no"))
    return [*run.messages, *structured.messages, *gated.messages]


def test_every_message_the_engine_writes_validates_unchanged() -> None:
    messages = _conversation()
    assert {m["role"] for m in messages} == {"user", "assistant", "tool"}
    assert any("media" in m for m in messages)
    assert CHAT_MESSAGES.validate_python(messages) == messages
    assert CHAT_MESSAGES.validate_json(json.dumps(messages)) == messages


def test_validated_messages_are_plain_dicts_a_provider_takes() -> None:
    messages: list[ChatMessage] = CHAT_MESSAGES.validate_python(_conversation())
    assert all(type(m) is dict for m in messages)
    payload = build_payload(LlmRequest(model="m", messages=messages))
    assert [m["role"] for m in payload["messages"]][:2] == ["user", "assistant"]


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ({"role": "system", "content": "x"}, "does not match any of the expected tags"),
        ({"role": "tool", "name": "t", "content": "x"}, "tool.tool_call_id"),
        ({"role": "user", "content": "x", "medias": []}, "user.medias"),
        ({"role": "user", "content": 3}, "user.content"),
        ({"role": "assistant", "content": None, "tool_calls": [{"id": "a", "name": "t"}]}, "arguments"),
        ({"content": "x"}, "role"),
    ],
)
def test_a_bad_message_is_refused_naming_the_field(message: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        CHAT_MESSAGES.validate_python([{"role": "user", "content": "ok"}, message])
