"""ConversationMemory's trimming (the reference's rule) and the server's conversion and
trimming of memory messages (server/memory.py)."""

from __future__ import annotations

from typing import Any

import pytest

from agentspan.agents import Agent, ConversationMemory
from agentspan.agents._serialize import serialize_agent
from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import AgentConfig
from agentspan.server.errors import InvalidAgent
from agentspan.server.memory import check_memory, history_for, memory_instructions, well_formed


def roles(memory: ConversationMemory) -> list[str]:
    return [f"{m['role']}:{m['message']}" for m in memory.messages]


def test_trimming_keeps_system_messages_in_place_and_the_newest_others() -> None:
    memory = ConversationMemory(max_messages=3)
    memory.add_user_message("u1")
    memory.add_system_message("s1")
    memory.add_assistant_message("a1")
    memory.add_user_message("u2")
    assert roles(memory) == ["system:s1", "assistant:a1", "user:u2"]


def test_system_messages_alone_over_the_budget_keep_the_newest_of_them() -> None:
    memory = ConversationMemory(max_messages=2)
    for text in ("s1", "s2", "s3"):
        memory.add_system_message(text)
    memory.add_user_message("u1")
    assert roles(memory) == ["system:s2", "system:s3"]


def test_tool_calls_and_results_in_the_reference_shape() -> None:
    memory = ConversationMemory()
    memory.add_tool_call("lookup", {"q": "x"}, task_reference_name="ref1")
    memory.add_tool_result("lookup", "found", task_reference_name="ref1")
    assert memory.messages == [
        {
            "role": "tool_call",
            "message": "",
            "tool_calls": [{"name": "lookup", "taskReferenceName": "ref1", "input": {"q": "x"}}],
        },
        {"role": "tool", "message": "found", "toolCallId": "ref1", "taskReferenceName": "ref1"},
    ]
    copy = memory.to_chat_messages()
    copy[0]["tool_calls"][0]["input"]["q"] = "changed"
    assert memory.messages[0]["tool_calls"][0]["input"] == {"q": "x"}


def spec_with(memory: ConversationMemory) -> AgentConfig:
    return serialize_agent(Agent(name="m", model="openai/gpt-4o", memory=memory))


def test_the_server_bound_counts_system_messages_and_drops_a_dangling_tool_result() -> None:
    memory = ConversationMemory()
    memory.add_system_message("rules")
    memory.add_tool_call("lookup", {"q": "x"})
    memory.add_tool_result("lookup", "found")
    memory.add_assistant_message("It is found.")
    memory.max_messages = 3  # set after the adds: the server applies the bound itself
    spec = spec_with(memory)
    session: list[ChatMessage] = [{"role": "user", "content": "old"}]
    assert history_for(spec, session) == [{"role": "assistant", "content": "It is found."}]
    assert memory_instructions(spec) == ["rules"]


def test_a_call_without_its_result_is_dropped_and_a_result_without_its_call_too() -> None:
    messages: list[Any] = [
        {"role": "tool", "tool_call_id": "gone", "content": "orphan"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "name": "t", "arguments": "{}"}]},
        {"role": "user", "content": "next"},
    ]
    assert well_formed(messages) == [{"role": "user", "content": "next"}]


def test_a_team_parent_with_memory_is_refused_naming_the_option() -> None:
    member = Agent(name="member", model="openai/gpt-4o")
    team = Agent(name="team", agents=[member], strategy="parallel", memory=ConversationMemory(max_messages=5))
    with pytest.raises(InvalidAgent, match="agent 'team': memory: a 'parallel' team"):
        check_memory(serialize_agent(team), "team")
