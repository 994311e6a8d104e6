"""The demo's agent and tools (imported by the demo and by its worker process)."""

from __future__ import annotations

import os
import time

from agentspan.agents import Agent, ToolContext, tool

MODEL = "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"


@tool
def lookup_order(order_id: str) -> dict[str, object]:
    """Look up an order by its id."""
    return {"order_id": order_id, "status": "delivered", "total": 25.0, "customer": "Ada"}


@tool
def generate_report(order_id: str, context: ToolContext) -> str:
    """Write a short incident report for an order (slow: several seconds)."""
    marker = os.environ.get("DEMO_MARKER")
    if marker:
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()} attempt={context.attempt} key={context.idempotency_key}\n")
    time.sleep(float(os.environ.get("DEMO_REPORT_SECONDS", "1")))
    return f"Report for {order_id}: delivered late, customer refunded (worker pid {os.getpid()})."


@tool(approval_required=True)
def issue_refund(order_id: str, amount: float) -> dict[str, object]:
    """Refund money to the customer. A human must approve this first."""
    return {"order_id": order_id, "refunded": amount, "status": "completed"}


def support_agent() -> Agent:
    return Agent(
        name="support_demo",
        model=MODEL,
        instructions=(
            "You resolve customer complaints. Call lookup_order, generate_report and "
            "issue_refund (for the order total) for the order, then summarise."
        ),
        tools=[lookup_order, generate_report, issue_refund],
    )
