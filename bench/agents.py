"""The Agentspan side of the workload: agents and tools, shared by the driver and workers.

``turn_agent`` runs the durable turn of ``workload.py`` (``ScriptedModel`` on the server,
``echo`` in a worker). ``slow_agent`` is the recovery workload: its tool sleeps
``BENCH_TOOL_SECONDS`` and appends ``start``/``end`` lines to the ledger file
``BENCH_LEDGER``, so duplicate runs can be counted after a kill. ``approval_agent`` pauses
for a human before its tool, for the cost-of-waiting figure; ``stream_agent`` asks again and
again (streaming figure), ``history_agent`` calls ``echo`` many times in a row (cost against
conversation length).
"""

from __future__ import annotations

import os
import time
from typing import Any

import workload

from agentspan.agents import Agent, ToolContext, tool
from agentspan.agents.testing import ScriptedModel, ToolCall


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return workload.echo(text)


def _ledger_line(kind: str, context: ToolContext) -> None:
    path = os.environ.get("BENCH_LEDGER", "")
    if not path:
        return
    line = f"{kind} {context.idempotency_key} {context.attempt} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one O_APPEND write: lines never interleave
    finally:
        os.close(fd)


@tool
def slow_step(item: str, context: ToolContext) -> str:
    """A step that takes a while, recorded in the ledger when it starts and ends."""
    _ledger_line("start", context)
    time.sleep(float(os.environ.get("BENCH_TOOL_SECONDS", "0.5")))
    _ledger_line("end", context)
    return item


@tool(approval_required=True)
def needs_ok(item: str) -> str:
    """Needs a human's approval (never given in the benchmark)."""
    return item


def turn_agent() -> Agent:
    script = ScriptedModel([ToolCall("echo", {"text": workload.TOOL_ARGUMENT}), workload.FINAL_ANSWER])
    return Agent(name="bench_turn", model=script, tools=[echo])


def slow_agent() -> Agent:
    return Agent(
        name="bench_slow",
        model=ScriptedModel([ToolCall("slow_step", {"item": "x"}), "ok"]),
        tools=[slow_step],
    )


def approval_agent() -> Agent:
    return Agent(
        name="bench_wait", model=ScriptedModel([ToolCall("needs_ok", {"item": "x"}), "ok"]), tools=[needs_ok]
    )


def stream_agent(events: int) -> Agent:
    """Asks for approval of ``needs_ok`` ``events`` times in a row, then answers: each
    rejection (``POST /respond``) commits an ``approval`` event, and the server runs the
    next model call itself, so no worker is needed (figure 5)."""
    turns: list[Any] = [ToolCall("needs_ok", {"item": str(i)}) for i in range(events)]
    return Agent(
        name=f"bench_stream_{events}",
        model=ScriptedModel([*turns, "ok"]),
        tools=[needs_ok],
        max_turns=events + 1,
    )


def history_agent(calls: int) -> Agent:
    """Calls ``echo`` ``calls`` times in sequence, then answers: the conversation ends with
    2 * calls + 2 messages (figure 6)."""
    turns: list[Any] = [ToolCall("echo", {"text": workload.TOOL_ARGUMENT}) for _ in range(calls)]
    return Agent(
        name=f"bench_history_{calls}",
        model=ScriptedModel([*turns, workload.FINAL_ANSWER]),
        tools=[echo],
        max_turns=calls + 1,
    )
