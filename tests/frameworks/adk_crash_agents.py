"""The Google ADK agent shared by the crash test and the worker processes it kills.

Both sides import this file, so the tool names match; only the worker processes serve.
Each tool run appends ``<tool> <pid> <call id> <state>`` to ``CHAOS_LOG``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from google.adk.agents import LlmAgent
from google.adk.tools.tool_context import ToolContext


def _note(tool_context: ToolContext, tool: str) -> None:
    state = json.dumps(tool_context.state.to_dict(), sort_keys=True, separators=(",", ":"))
    with Path(os.environ["CHAOS_LOG"]).open("a") as fh:
        fh.write(f"{tool} {os.getpid()} {tool_context.function_call_id} {state}\n")


def fetch_order(order_id: str, tool_context: ToolContext) -> str:
    """Look an order up (quick)."""
    _note(tool_context, "fetch_order")
    tool_context.state["order"] = order_id
    return f"order {order_id}: 2 books"


def ship_order(order_id: str, tool_context: ToolContext) -> str:
    """Ship an order (slow while CHAOS_SLOW=1)."""
    _note(tool_context, "ship_order")
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return f"shipped {tool_context.state['order']} from {os.getpid()}"


def shop_agent() -> LlmAgent:
    return LlmAgent(
        name="shop_agent",
        instruction="Fetch the order, then ship it.",
        model="openai/gpt-4o",
        tools=[fetch_order, ship_order],
    )
