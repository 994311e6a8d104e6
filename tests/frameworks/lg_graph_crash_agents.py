"""The LangGraph graph shared by the durable-graph crash test and the worker processes it
kills: fetch → ship → report, each node appending ``<node> <pid> <superstep>`` to
``CHAOS_LOG``; ``ship`` sleeps while ``CHAOS_SLOW`` is 1."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph


class Order(TypedDict):
    order_id: str
    log: list[str]


def _note(node: str, state: Order) -> None:
    with Path(os.environ["CHAOS_LOG"]).open("a") as fh:
        fh.write(f"{node} {os.getpid()} {len(state['log'])}\n")


def fetch(state: Order) -> dict[str, Any]:
    _note("fetch", state)
    return {"log": [*state["log"], f"fetched {state['order_id']}"]}


def ship(state: Order) -> dict[str, Any]:
    _note("ship", state)
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return {"log": [*state["log"], f"shipped from {os.getpid()}"]}


def report(state: Order) -> dict[str, Any]:
    _note("report", state)
    return {"log": [*state["log"], "reported"]}


def shipping_graph() -> Any:
    builder = StateGraph(Order)
    builder.add_node("fetch", fetch)
    builder.add_node("ship", ship)
    builder.add_node("report", report)
    builder.add_edge(START, "fetch")
    builder.add_edge("fetch", "ship")
    builder.add_edge("ship", "report")
    builder.add_edge("report", END)
    return builder.compile(name="shipping")
