"""Prometheus metrics: scrape GET /metrics before and after a run and compare.

    python examples/14-operations/04_metrics.py

Every server exposes ``/metrics`` (Prometheus text format; on by default). Counters are
per server process, so this example reads them before and after one run of its agent
and prints the difference: one execution started and finished, two tool calls completed.
With no API key the model is scripted.
"""

import time
import urllib.request

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def stock_level(sku: str) -> int:
    """Units in stock for a product."""
    return {"MUG-1": 12, "CUP-7": 0}.get(sku, 0)


agent = Agent(
    name="metrics_stock_clerk",
    model=scripted_or_live(
        [
            [ToolCall("stock_level", {"sku": "MUG-1"}), ToolCall("stock_level", {"sku": "CUP-7"})],
            "12 mugs, no cups.",
        ]
    ),
    instructions="Check both products' stock, then answer.",
    tools=[stock_level],
)
WATCHED = {
    "started": f'agentspan_executions_started_total{{agent="{agent.name}"}}',
    "completed": f'agentspan_executions_finished_total{{agent="{agent.name}",status="COMPLETED"}}',
    "tool calls": 'agentspan_tool_calls_total{kind="worker",outcome="completed",tool="stock_level"}',
}


def scrape(root_url: str) -> dict[str, float]:
    text = urllib.request.urlopen(root_url + "/metrics").read().decode()
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {label: float(values.get(series, 0)) for label, series in WATCHED.items()}


with AgentRuntime() as runtime:
    root_url = runtime.config.server_url.removesuffix("/api")
    before = scrape(root_url)
    print(runtime.run(agent, "How many mugs and cups are in stock?").output)
    deadline = time.monotonic() + 5  # metrics are counted just after each step commits
    while (after := scrape(root_url))["completed"] == before["completed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    for label in WATCHED:
        print(f"{label}: +{after[label] - before[label]:g}")

# expect: started: +1
# expect: completed: +1
# expect: tool calls: +2
