"""``mock_run`` and ``expect``: test an agent's tools and the checks with no server at all.

    python examples/13-testing/01_mock_run_and_expect.py

``mock_run`` plays a script of what the model decides (``MockEvent``s); the agent's own tools
really run. ``expect(result)`` then checks the result with chained assertions that raise
``AssertionError`` saying what they found. Nothing here needs a server, a model or a key.
"""

from agentspan.agents import Agent, tool
from agentspan.agents.testing import MockEvent, expect, mock_run


@tool
def shipping_cost(weight_kg: float, country: str) -> float:
    """Shipping cost in euros."""
    return round(4.5 + 1.25 * weight_kg + (6.0 if country != "DE" else 0.0), 2)


agent = Agent(name="shipping_quote", model="openai/gpt-4o-mini", tools=[shipping_cost])

result = mock_run(
    agent,
    "How much to ship 2 kg to France?",
    [
        MockEvent.thinking("shipping_quote: model call 1"),
        MockEvent.tool_call("shipping_cost", {"weight_kg": "2", "country": "FR"}),  # "2" is coerced to 2.0
        MockEvent.thinking("shipping_quote: model call 2"),
        MockEvent.done("Shipping 2 kg to France costs 13.00 EUR."),
    ],
)
print(f"the real tool returned: {result.tool_calls[0]['result']}")
expect(result).completed().no_errors().used_tool("shipping_cost", args={"country": "FR"}).max_turns(2)
print("expect: completed, no errors, used shipping_cost for FR, at most 2 turns -> all passed")

try:
    expect(result).output_contains("Germany")
except AssertionError as failure:
    print(f"a failing check says: {failure}")

# expect: the real tool returned: 13.0
# expect: -> all passed
# expect: a failing check says:
# expect: Germany
