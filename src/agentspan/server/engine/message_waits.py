"""``wait_for_message_tool`` calls and the operator's signal: the engine's side.

A call of a ``pull_workflow_messages`` tool is ``running`` with ``wait_kind``
``messages`` and no task: the engine asks the driver for queued messages
(``PullMessages``), which answers in the same transaction with a ``ToolSucceeded`` when
there are any (or at once, with none, for a non-blocking tool). A blocking call that
found none waits durably (it is only state); each ``MessageArrived`` (a
``send_message``, on any replica) asks again inside the sending transaction. So the
delivery of a message and the call's result are one commit: never lost, never twice.

The signal is a standing note the operator sets (``/signal``); the model call shows it
with the conversation's last user message (``executors/prompts.py``).
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig, MessageWaitTool
from agentspan.server.engine.model import CallState, EventDraft, MessageArrived, PullMessages, SignalSet
from agentspan.server.engine.steps import Step
from agentspan.server.engine.waits import pending_tool, wait_text


def await_messages(d: Step, call: CallState, tool: MessageWaitTool) -> None:
    """Ask for the call's messages; a blocking call shows as waiting until they come."""
    call.status = "running"
    call.attempt += 1
    call.wait_kind = "messages"
    blocking = tool.config.blocking is not False
    if blocking:
        d.events.append(
            EventDraft(
                "waiting",
                {
                    "tool_name": call.name,
                    "call_id": call.call_id,
                    "content": wait_text(call),
                    "pending_tool": pending_tool(call),
                },
            )
        )
    d.commands.append(PullMessages(call.call_id, tool.config.batch_size, blocking))


def message_waits(calls: list[CallState]) -> list[CallState]:
    """The calls (of ``calls``) waiting for messages, in call order."""
    return [c for c in calls if c.status == "running" and c.wait_kind == "messages"]


def on_message_arrived(spec: AgentConfig, d: Step, inp: MessageArrived) -> None:
    """Record the message in the history; every call waiting for messages asks again (in
    call order: the first takes what its batch size allows, the next what is left)."""
    s = d.state
    d.events.append(EventDraft("message_received", {"data": {"seq": inp.seq, "message": inp.message}}))
    for call in message_waits([s.calls[i] for i in s.call_order]):
        tool = spec.tool(call.name)
        batch = tool.config.batch_size if isinstance(tool, MessageWaitTool) else 1
        d.commands.append(PullMessages(call.call_id, batch, True))


def delivered(messages: list[Any]) -> dict[str, Any]:
    """What a ``wait_for_message_tool`` call returns to the model."""
    return {"messages": messages, "count": len(messages)}


def on_signal(spec: AgentConfig, d: Step, inp: SignalSet) -> None:
    d.state.signal = inp.message
    d.events.append(EventDraft("signal", {"content": inp.message}))
