"""Conversation memory: earlier messages an agent starts every run from.

``Agent(memory=ConversationMemory(...))`` sends ``memory.messages`` with each run; the
server writes them, trimmed to ``max_messages``, before the prompt. ``run()`` (without a
``session_id``) adds each completed exchange to the memory object, so one object used for
two runs remembers the first in the second. With a ``session_id`` the server keeps the
session's conversation itself, for any process on any machine (docs/sdk.md#memory).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from agentspan.protocol.spec import MemorySpec

__all__ = ["ConversationMemory", "remember_exchange"]


@dataclass
class ConversationMemory:
    """Messages in the reference's shape (``{"role": ..., "message": ...}``).

    ``max_messages``: after every add, keep all system messages and the newest others up
    to that many in all (if the system messages alone exceed it, the newest of them); the
    server applies the same bound to what it loads.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    max_messages: int | None = None

    def add_user_message(self, content: str) -> None:
        self._add({"role": "user", "message": content})

    def add_assistant_message(self, content: str) -> None:
        self._add({"role": "assistant", "message": content})

    def add_system_message(self, content: str) -> None:
        self._add({"role": "system", "message": content})

    def add_tool_call(
        self, tool_name: str, arguments: dict[str, Any], task_reference_name: str | None = None
    ) -> None:
        ref = task_reference_name or f"{tool_name}_ref"
        call = {"name": tool_name, "taskReferenceName": ref, "input": arguments}
        self._add({"role": "tool_call", "message": "", "tool_calls": [call]})

    def add_tool_result(self, tool_name: str, result: Any, task_reference_name: str | None = None) -> None:
        ref = task_reference_name or f"{tool_name}_ref"
        text = result if isinstance(result, str) else json.dumps(result, default=str)
        self._add({"role": "tool", "message": text, "toolCallId": ref, "taskReferenceName": ref})

    def to_chat_messages(self) -> list[dict[str, Any]]:
        """A deep copy of the messages."""
        return copy.deepcopy(self.messages)

    def clear(self) -> None:
        self.messages.clear()

    def to_spec(self) -> MemorySpec:
        return MemorySpec(messages=self.to_chat_messages(), max_messages=self.max_messages)

    def _add(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self._trim()

    def _trim(self) -> None:
        limit = self.max_messages
        if limit is None or len(self.messages) <= limit:
            return
        system = [i for i, m in enumerate(self.messages) if m.get("role") == "system"]
        if len(system) >= limit:
            keep = set(system[len(system) - limit :])
        else:
            others = [i for i, m in enumerate(self.messages) if m.get("role") != "system"]
            keep = set(system) | set(others[len(others) - (limit - len(system)) :])
        self.messages[:] = [m for i, m in enumerate(self.messages) if i in keep]


def remember_exchange(agent: Any, prompt: str | None, result: Any) -> None:
    """After ``run()``: a completed run's prompt and answer join the agent's
    ``ConversationMemory`` (the next run starts from them)."""
    memory = getattr(agent, "memory", None)
    if not isinstance(memory, ConversationMemory) or result.status != "COMPLETED":
        return
    output = result.output
    if hasattr(output, "model_dump_json"):  # an output_type instance
        output = output.model_dump_json()
    if prompt:
        memory.add_user_message(prompt)
    if output is not None and output != "":
        memory.add_assistant_message(output if isinstance(output, str) else json.dumps(output, default=str))
