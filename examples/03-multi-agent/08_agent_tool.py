"""Agents as tools: a lead agent calls a specialist agent like any other tool.

    python examples/03-multi-agent/08_agent_tool.py

``agent_tool(agent)`` offers an agent to a model as a tool taking one ``request`` string.
Each call starts the specialist as a child execution (with its own tools, durable on its
own); its answer is the tool's result, and the lead keeps control of the conversation.
"""

from agentspan.agents import Agent, AgentRuntime, agent_tool, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def exchange_rate(base: str, quote: str) -> float:
    """Today's exchange rate (a stand-in for a rates API)."""
    return 1.08 if (base, quote) == ("EUR", "USD") else 1.0


fx = Agent(
    name="fx_specialist",
    model=scripted_or_live(
        [ToolCall("exchange_rate", {"base": "EUR", "quote": "USD"}), "1 EUR = 1.08 USD today."]
    ),
    instructions="Answer currency questions with exchange_rate.",
    tools=[exchange_rate],
)
lead = Agent(
    name="travel_lead",
    model=scripted_or_live(
        [
            ToolCall("fx_specialist", {"request": "EUR to USD rate?"}),
            "At 1.08, your 500 EUR is about 540 USD.",
        ]
    ),
    instructions="Plan the trip budget; ask fx_specialist for exchange rates.",
    tools=[agent_tool(fx)],
)

with AgentRuntime() as runtime:
    result = runtime.run(lead, "I have 500 EUR for New York. How many dollars is that?")
    call = result.tool_calls[0]
    print(f"lead called {call['name']}({call['args']}) -> {call['result']}")
    print(result.output)

# expect: lead called fx_specialist({'request': 'EUR to USD rate?'}) -> 1 EUR = 1.08 USD today.
# expect: At 1.08, your 500 EUR is about 540 USD.
