"""The OpenAI Agents SDK agent shared by the crash test and the worker processes it kills.

Both sides import this file, so the tool names match; only the worker processes serve.
Each tool run appends ``<tool> <pid> <call id>`` to ``CHAOS_LOG``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from agents import Agent, function_tool
from agents.tool_context import ToolContext


def _note(ctx: ToolContext[object], tool: str) -> None:
    with Path(os.environ["CHAOS_LOG"]).open("a") as fh:
        fh.write(f"{tool} {os.getpid()} {ctx.tool_call_id}\n")


@function_tool
def fetch_order(ctx: ToolContext[object], order_id: str) -> str:
    """Look an order up (quick)."""
    _note(ctx, "fetch_order")
    return f"order {order_id}: 2 books"


@function_tool
def ship_order(ctx: ToolContext[object], order_id: str) -> str:
    """Ship an order (slow while CHAOS_SLOW=1)."""
    _note(ctx, "ship_order")
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return f"shipped {order_id} from {os.getpid()}"


def shop_agent() -> Agent[object]:
    return Agent(
        name="Shop agent",
        instructions="Fetch the order, then ship it.",
        model="gpt-4o",
        tools=[fetch_order, ship_order],
    )
