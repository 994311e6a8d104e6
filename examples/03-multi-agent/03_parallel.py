"""Parallel: several agents work on the same request at the same time.

    python examples/03-multi-agent/03_parallel.py

Every sub-agent runs as its own child execution, all at once; the team's answer puts their
answers together (``[name]: ...``), and ``sub_results`` has each one. Here each analyst's
tool takes one second, and the whole team still finishes in about one second.
"""

import time

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def market_size(region: str) -> str:
    """Estimate the market size in a region (slow)."""
    time.sleep(1.0)
    return f"{region}: 2.1bn"


@tool
def competitor_count(region: str) -> int:
    """Count competitors in a region (slow)."""
    time.sleep(1.0)
    return 7


market = Agent(
    name="market_analyst",
    model=scripted_or_live([ToolCall("market_size", {"region": "EU"}), "The EU market is about 2.1bn."]),
    tools=[market_size],
)
rivals = Agent(
    name="rival_analyst",
    model=scripted_or_live(
        [ToolCall("competitor_count", {"region": "EU"}), "There are 7 competitors in the EU."]
    ),
    tools=[competitor_count],
)
analysis = Agent(name="launch_analysis", agents=[market, rivals], strategy="parallel")

with AgentRuntime() as runtime:
    started = time.monotonic()
    result = runtime.run(analysis, "Should we launch in the EU?")
    print(f"branches ran side by side: {time.monotonic() - started < 1.9}")
    print(result.output)

# expect: branches ran side by side: True
# expect: [market_analyst]: The EU market is about 2.1bn.
# expect: [rival_analyst]: There are 7 competitors in the EU.
