"""The LangChain agent shared by the LangGraph crash test and the worker processes it kills.

Both sides import this file, so the tool names match; only the worker processes serve.
Each tool run appends ``<tool> <pid> <call id>`` to ``CHAOS_LOG``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

from langchain.agents import create_agent
from langchain_core.tools import InjectedToolCallId, tool
from langchain_openai import ChatOpenAI


def _note(tool_name: str, call_id: str) -> None:
    with Path(os.environ["CHAOS_LOG"]).open("a") as fh:
        fh.write(f"{tool_name} {os.getpid()} {call_id}\n")


@tool
def fetch_order(order_id: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
    """Look an order up (quick)."""
    _note("fetch_order", tool_call_id)
    return f"order {order_id}: 2 books"


@tool
def ship_order(order_id: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
    """Ship an order (slow while CHAOS_SLOW=1)."""
    _note("ship_order", tool_call_id)
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return f"shipped {order_id} from {os.getpid()}"


def shop_graph() -> Any:
    model = ChatOpenAI(model="gpt-4o", api_key="sk-test-not-a-real-key")  # type: ignore[arg-type]
    return create_agent(
        model, [fetch_order, ship_order], system_prompt="Fetch the order, then ship it.", name="shop"
    )
