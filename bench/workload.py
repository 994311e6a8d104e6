"""The workload every system runs: one durable turn = model call -> tool call -> model call.

The model is a zero-latency scripted function: asked with no tool result in the
conversation it returns one call of the ``echo`` tool, asked again it answers. The tool
returns its argument. Nothing here depends on any system under test, so the in-process
loop, LangGraph and DBOS call exactly these two functions (Agentspan runs the same script
through ``ScriptedModel`` on its server and the same ``echo`` in a worker process).
"""

from __future__ import annotations

from typing import Any

TOOL_ARGUMENT = "hi"
FINAL_ANSWER = "done"
PROMPT = "say hi"

Message = dict[str, Any]


def scripted_model(messages: list[Message]) -> Message:
    """Turn 1: call ``echo``; turn 2 (a tool result is present): the final answer."""
    if any(m.get("role") == "tool" for m in messages):
        return {"role": "assistant", "content": FINAL_ANSWER}
    call = {"id": "call_1", "name": "echo", "arguments": {"text": TOOL_ARGUMENT}}
    return {"role": "assistant", "content": "", "tool_calls": [call]}


def echo(text: str) -> str:
    """The tool: trivial, so everything measured around it is orchestration."""
    return text


def tool_message(call: Message, result: str) -> Message:
    return {"role": "tool", "tool_call_id": call["id"], "name": call["name"], "content": result}


def check_answer(messages: list[Message]) -> None:
    """A finished turn must end with the scripted answer after exactly one tool result."""
    tools = [m for m in messages if m.get("role") == "tool"]
    if len(tools) != 1 or tools[0]["content"] != TOOL_ARGUMENT:
        raise AssertionError(f"expected one echo result, got {tools!r}")
    if messages[-1].get("content") != FINAL_ANSWER:
        raise AssertionError(f"expected the final answer {FINAL_ANSWER!r}, got {messages[-1]!r}")
