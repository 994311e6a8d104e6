"""Streaming: watch an execution's events as they happen.

    python examples/01-basics/04_streaming.py

``runtime.stream(agent, prompt)`` starts the run and yields every durable event (model
calls, tool calls and results, the final ``done``) plus live text pieces while the model
writes (``message`` events with ``id == 0``). A dropped connection resumes from the last
event id, so nothing is lost or repeated.
"""

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def stock_level(sku: str) -> int:
    """How many units of a product are in stock."""
    return 42


agent = Agent(
    name="stock_streamer",
    model=scripted_or_live(
        [ToolCall("stock_level", {"sku": "KB-7"}), "There are 42 KB-7 keyboards in stock."]
    ),
    instructions="Check the stock, then answer in one sentence.",
    tools=[stock_level],
)

with AgentRuntime() as runtime:
    stream = runtime.stream(agent, "How many KB-7 keyboards do we have?")
    for event in stream:
        if event.id == 0:
            print(f"live text: {event.content!r}")
        elif event.type == "tool_call":
            print(f"#{event.id} tool_call {event.tool_name} {event.args}")
        elif event.type == "tool_result":
            print(f"#{event.id} tool_result {event.tool_name} -> {event.result}")
        else:
            print(f"#{event.id} {event.type}")
    print(f"final: {stream.get_result().output}")

# expect: tool_call stock_level {'sku': 'KB-7'}
# expect: tool_result stock_level -> 42
# expect: done
# expect: final: There are 42 KB-7 keyboards in stock.
