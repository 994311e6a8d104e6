"""Conversation memory: the prior conversation an execution starts from.

Two sources, read by the driver inside the transaction that creates the execution and
handed to the engine in the ``Start`` input (the engine stays pure):

- the agent's own ``memory.messages`` (the SDK's ``ConversationMemory``), in the
  reference's shape (``{"role", "message"}``, ``tool_call`` / ``tool`` entries) or as
  chat messages (``{"role", "content"}``);
- for a root execution started with a ``sessionId``, the exchanges of the session's
  earlier completed runs (``store/memory.py``): each completed root run records its prompt
  and its answer there, in the step that completes it.

The engine writes the loaded messages as the first messages of the execution, in the same
transaction as its row, so what a run was given is recorded once: a crash or a restart
never loads a different history for it. ``system`` messages are not conversation here:
they are added to the instructions of every model call (``memory_instructions``).

Bounds: ``memory.maxMessages`` (system messages included, as in the reference: the
newest non-system messages fill what the system messages leave) or, without it, the
newest ``SESSION_HISTORY_MESSAGES`` messages of the session.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from agentspan.protocol.messages import CHAT_MESSAGES, ChatMessage, MessageToolCall
from agentspan.protocol.spec import AgentConfig, MemorySpec
from agentspan.server.engine.model import ExecState
from agentspan.server.engine.specs import is_pipeline, is_team
from agentspan.server.errors import InvalidAgent
from agentspan.server.store.base import ExecutionRow, Tx

SESSION_HISTORY_MESSAGES = 100
"""How many of a session's newest messages a run gets when its agent sets no
``max_messages``."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def runs_a_model_loop(spec: AgentConfig) -> bool:
    """Whether the agent has a conversation of its own (a single agent or a handoff
    parent); a pipeline or team parent only hands prompts to its sub-agents."""
    return not is_pipeline(spec) and not is_team(spec)


# --------------------------------------------------------------------------- conversion


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _converted(raw: dict[str, Any]) -> dict[str, Any] | str:
    """One memory entry as a chat message (or a system text), not yet validated."""
    role = raw.get("role")
    text = raw.get("content", raw.get("message", ""))
    if role == "system":
        return _text(text)
    if role == "tool_call":
        calls: list[MessageToolCall] = []
        for i, call in enumerate(raw.get("tool_calls") or raw.get("toolCalls") or []):
            name = str(call.get("name", ""))
            ref = call.get("taskReferenceName") or call.get("id") or f"{name}_ref_{i}"
            arguments = call.get("input", call.get("arguments", {}))
            calls.append({"id": str(ref), "name": name, "arguments": _text(arguments)})
        return {"role": "assistant", "content": _text(text) if text else None, "tool_calls": calls}
    if role == "tool" and "tool_call_id" not in raw:
        ref = raw.get("toolCallId") or raw.get("taskReferenceName") or ""
        message: dict[str, Any] = {"role": "tool", "tool_call_id": str(ref), "content": _text(text)}
        if raw.get("name"):
            message["name"] = str(raw["name"])
        return message
    if role in ("user", "assistant") and "message" in raw and "content" not in raw:
        converted = {k: v for k, v in raw.items() if k != "message"}
        converted["content"] = _text(text)
        return converted
    return raw


def split_memory(memory: MemorySpec, where: str) -> tuple[list[str], list[ChatMessage]]:
    """``(system texts, conversation)`` of an agent's memory; a message that is neither
    the reference's shape nor a chat message is refused, naming it."""
    system: list[str] = []
    conversation: list[dict[str, Any]] = []
    for i, raw in enumerate(memory.messages or ()):
        converted = _converted(raw)
        if isinstance(converted, str):
            system.append(converted)
            continue
        try:
            CHAT_MESSAGES.validate_python([converted])
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(p) for p in problem["loc"][1:])
            raise InvalidAgent(
                f"agent '{where}': memory.messages[{i}] is not a chat message ({field}: {problem['msg']})"
            ) from None
        conversation.append(converted)
    return system, conversation  # type: ignore[return-value]  # validated above


def check_memory(spec: AgentConfig, where: str) -> None:
    """Refuse at start what this server cannot honour: memory on an agent without a
    conversation of its own, and messages that do not parse. (Semantic memory the SDK
    did not search, a sub-agent's, is refused with the other unhonoured options,
    ``engine/options.py``.)"""
    memory = spec.memory
    if memory is None or (memory.kind == "semantic" and memory.messages is None):
        return  # refused with the other unhonoured options
    if not runs_a_model_loop(spec):
        raise InvalidAgent(
            f"agent '{where}': memory: a '{spec.strategy}' team has no conversation of its own; "
            "give the memory to its sub-agents"
        )
    split_memory(memory, where)


def memory_instructions(spec: AgentConfig) -> list[str]:
    """The memory's system messages (the newest ``max_messages`` of them), which join the
    agent's instructions on every model call."""
    memory = spec.memory
    if memory is None or not memory.messages:
        return []
    system = [
        _text(m.get("content", m.get("message", ""))) for m in memory.messages if m.get("role") == "system"
    ]
    if memory.max_messages is not None:
        system = system[-memory.max_messages :] if memory.max_messages else []
    return system


# --------------------------------------------------------------------------- trimming


def well_formed(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Drop what a trim can leave dangling: tool results whose call was cut off, and
    calls without a result (providers refuse both)."""
    answered = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    called: set[str] = set()
    out: list[ChatMessage] = []
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] in called:
                out.append(message)
            continue
        if message["role"] == "assistant" and message.get("tool_calls"):
            calls = [c for c in message.get("tool_calls", []) if c["id"] in answered]
            called.update(c["id"] for c in calls)
            if not calls and not message.get("content"):
                continue
            message = {**message, "tool_calls": calls}
        out.append(message)
    return out


def history_for(spec: AgentConfig, session: list[ChatMessage]) -> list[ChatMessage]:
    """The prior conversation of an execution: the session's messages, then the agent's
    own memory, trimmed to its bound."""
    memory = spec.memory
    system: list[str] = []
    own: list[ChatMessage] = []
    if memory is not None:
        system, own = split_memory(memory, spec.name)
    combined = [*session, *own]
    if memory is not None and memory.max_messages is not None:
        budget = max(memory.max_messages - len(system), 0)
        combined = combined[max(len(combined) - budget, 0) :] if budget else []
    return well_formed(combined)


async def load_history(tx: Tx, spec: AgentConfig, session_id: str) -> list[ChatMessage]:
    """What the execution about to start remembers (``session_id``: "" for a child, or a
    root started without one)."""
    if not runs_a_model_loop(spec) or (spec.memory is None and not session_id):
        return []
    session: list[ChatMessage] = []
    if session_id:
        limit = SESSION_HISTORY_MESSAGES
        if spec.memory is not None and spec.memory.max_messages is not None:
            limit = spec.memory.max_messages
        session = [json.loads(body) for body in await tx.recent_session_messages(session_id, limit)]
    return history_for(spec, session)


# --------------------------------------------------------------------------- recording


def exchange(state: ExecState) -> list[ChatMessage]:
    """What a completed run adds to its session: its prompt and its answer."""
    messages: list[ChatMessage] = []
    if state.prompt:
        messages.append({"role": "user", "content": state.prompt})
    if state.output is not None and state.output != "":
        messages.append({"role": "assistant", "content": _text(state.output)})
    return messages


async def record_exchange(tx: Tx, row: ExecutionRow, state: ExecState, now: float) -> None:
    """Called in the step that ends an execution: a completed root run of a session
    adds its exchange to it, in the same transaction."""
    if row.parent_id is not None or not row.session_id or state.status != "COMPLETED":
        return
    messages = exchange(state)
    if messages:
        await tx.append_session_messages(row.session_id, row.id, [_dumps(m) for m in messages], now)
