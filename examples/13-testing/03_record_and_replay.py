"""Record and replay: keep a run as a JSON fixture and re-check it later, offline.

    python examples/13-testing/03_record_and_replay.py

``record(result, path)`` writes a result (output, tool calls, events, usage) to JSON;
``replay(path)`` loads it back as an ``AgentResult`` that every assertion accepts. Record a
run with a real model once, then keep checking it in CI with no server and no key.
"""

import json
import tempfile
from pathlib import Path

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, expect, record, replay, scripted_or_live


@tool
def currency_of(country: str) -> str:
    """The currency a country uses."""
    return {"Japan": "JPY", "Kenya": "KES"}.get(country, "unknown")


agent = Agent(
    name="currency_guide",
    model=scripted_or_live([ToolCall("currency_of", {"country": "Kenya"}), "Kenya uses the shilling (KES)."]),
    instructions="Answer with the currency_of tool.",
    tools=[currency_of],
)

with AgentRuntime() as runtime:
    live = runtime.run(agent, "What money do they use in Kenya?")

path = Path(tempfile.mkdtemp()) / "fixtures" / "kenya.json"
record(live, path)
saved = json.loads(path.read_text())
print(f"recorded {len(saved['events'])} events and {len(saved['tool_calls'])} tool call(s) to {path.name}")

again = replay(path)
expect(again).completed().used_tool("currency_of", args={"country": "Kenya"}).output_contains("KES")
print(f"replayed: {again.execution_id == live.execution_id}, output: {again.output}")

# expect: tool call(s) to kenya.json
# expect: replayed: True, output: Kenya uses the shilling (KES).
