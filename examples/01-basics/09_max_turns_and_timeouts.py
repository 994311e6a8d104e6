"""Limits: ``max_turns`` caps the model calls, ``timeout_seconds`` the wall-clock time.

    python examples/01-basics/09_max_turns_and_timeouts.py

An agent that keeps calling tools stops after ``max_turns`` model calls and completes with
``finish_reason == "max_turns"`` (its last text is the output). An agent whose work takes
longer than ``timeout_seconds`` ends TIMED_OUT; the deadline is kept by the server, so it
holds even if every process of yours has died.
"""

import time

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def next_page(page: int) -> str:
    """Read one more page of a very long document."""
    return f"page {page}: more text"


@tool
def slow_export(table: str) -> str:
    """Export a table (slow)."""
    time.sleep(3)
    return f"{table} exported"


reader = Agent(
    name="endless_reader",
    model=scripted_or_live([ToolCall("next_page", {"page": n}) for n in range(1, 10)]),
    instructions="Read every page of the document with next_page, one at a time.",
    tools=[next_page],
    max_turns=3,
)
exporter = Agent(
    name="slow_exporter",
    model=scripted_or_live([ToolCall("slow_export", {"table": "orders"}), "Exported."]),
    instructions="Export the orders table.",
    tools=[slow_export],
    timeout_seconds=1,
)

with AgentRuntime() as runtime:
    capped = runtime.run(reader, "Read the whole manual.")
    pages = [call["args"]["page"] for call in capped.tool_calls]
    print(f"reader: {capped.status}, finish_reason={capped.finish_reason}, pages read: {pages}")

    timed = runtime.run(exporter, "Export the orders.")
    print(f"exporter: {timed.status}, error: {timed.error}")

# expect: reader: COMPLETED, finish_reason=FinishReason.MAX_TURNS, pages read: [1, 2, 3]
# expect: exporter: TIMED_OUT
