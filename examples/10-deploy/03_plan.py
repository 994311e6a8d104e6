"""plan(): see what the server would store for an agent, without running anything.

    python examples/10-deploy/03_plan.py

``plan(agent)`` sends the definition to the server's compile endpoint and returns the
typed spec it would store (``agentConfig``), the tools some worker must serve
(``requiredWorkers``) and the spec's hash. Nothing is stored, no model is called and no
tool runs. The same definition always gives the same hash; a changed one a new hash,
which is how deploy decides whether a version is new.
"""

from agentspan.agents import Agent, AgentRuntime, http_tool, tool

calls: list[str] = []


@tool
def check_inventory(sku: str) -> int:
    """Units of a product in stock."""
    calls.append(sku)
    return 3


prices = http_tool(
    name="price_list",
    description="Today's prices (called by the server, so no worker needed)",
    url="https://prices.example.com/v1/today",
)


def shop_agent(instructions: str) -> Agent:
    return Agent(
        name="planned_shop",
        model="openai/gpt-4o-mini",
        instructions=instructions,
        tools=[check_inventory, prices],
        max_turns=5,
    )


with AgentRuntime() as runtime:
    plan = runtime.plan(shop_agent("Answer stock questions."))
    config = plan["agentConfig"]
    print("agent:", config["name"], "| model:", config["model"], "| max turns:", config["maxTurns"])
    print("tools:", [(t["name"], t["toolType"]) for t in config["tools"]])
    print("workers needed for:", plan["requiredWorkers"])
    again = runtime.plan(shop_agent("Answer stock questions."))
    changed = runtime.plan(shop_agent("Answer stock and price questions."))
    print("same definition, same hash:", again["specHash"] == plan["specHash"])
    print("changed instructions, new hash:", changed["specHash"] != plan["specHash"])
    print("tool calls made:", len(calls))

# expect: agent: planned_shop | model: openai/gpt-4o-mini | max turns: 5
# expect: tools: [('check_inventory', 'worker'), ('price_list', 'http')]
# expect: workers needed for: ['check_inventory']
# expect: same definition, same hash: True
# expect: changed instructions, new hash: True
# expect: tool calls made: 0
